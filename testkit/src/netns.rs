//! A LAN of network namespaces for multi-node tests: one namespace per host, each joined to
//! a bridge by a veth pair, addresses 10.213.X.(i+1)/24 (X from the test's pid), the bridge at
//! .254 so the test process reaches every host. `cut` splits the hosts into groups that cannot
//! reach one another (prohibit routes inside each namespace: a send fails at once, as a
//! partition that a node notices); `heal` removes them. Everything is deleted on drop.
//!
//! Needs root (CI runs as root). Only the namespaces, links and routes made here are touched.

use std::process::Command;

/// One host of the LAN.
pub struct Host {
    /// Its namespace.
    pub ns: String,
    /// Its address.
    pub ip: String,
}

/// The LAN (module docs).
pub struct Lan {
    bridge: String,
    /// The hosts, in order.
    pub hosts: Vec<Host>,
    cuts: Vec<(usize, String)>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Lan {
    /// `n` hosts; an error (naming the command that failed) where namespaces cannot be made,
    /// e.g. without root.
    pub fn new(n: usize) -> Result<Lan, String> {
        let pid = std::process::id();
        let tag = pid % 100_000;
        let net = format!("10.213.{}", pid % 250);
        let mut lan = Lan { bridge: format!("xlb{tag}"), hosts: Vec::new(), cuts: Vec::new() };
        ip(&["link", "add", &lan.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{net}.254/24"), "dev", &lan.bridge])?;
        ip(&["link", "set", &lan.bridge, "up"])?;
        for i in 0..n {
            let host = Host { ns: format!("xl{tag}n{i}"), ip: format!("{net}.{}", i + 1) };
            let (outer, inner) = (format!("xlh{tag}{i}"), format!("xlp{tag}{i}"));
            ip(&["netns", "add", &host.ns])?;
            lan.hosts.push(host);
            let host = &lan.hosts[i];
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &host.ns])?;
            ip(&["link", "set", &outer, "master", &lan.bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["-n", &host.ns, "addr", "add", &format!("{}/24", host.ip), "dev", &inner])?;
            ip(&["-n", &host.ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &host.ns, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    /// Split the hosts: each group reaches only its own members (and the test process).
    pub fn cut(&mut self, groups: &[&[usize]]) -> Result<(), String> {
        for group in groups {
            for &i in *group {
                for j in (0..self.hosts.len()).filter(|j| !group.contains(j)) {
                    let to = format!("{}/32", self.hosts[j].ip);
                    ip(&["-n", &self.hosts[i].ns, "route", "add", "prohibit", &to])?;
                    self.cuts.push((i, to));
                }
            }
        }
        Ok(())
    }

    /// Undo every cut.
    pub fn heal(&mut self) -> Result<(), String> {
        for (i, to) in std::mem::take(&mut self.cuts) {
            ip(&["-n", &self.hosts[i].ns, "route", "del", "prohibit", &to])?;
        }
        Ok(())
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and with it the pair.
        for h in &self.hosts {
            let _ = ip(&["netns", "del", &h.ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
