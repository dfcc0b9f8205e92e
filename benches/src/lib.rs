//! Shared helpers for the criterion benches (`benches/benches/*.rs`) and, later, the
//! `xinlian bench` report runner.
