/*
 * point.cl - the group law of y^2 = x^3 - 3x + b (SM2), the OpenCL C twin of
 * kernels/src/sm2/point.rs. Needs fp.cl before it.
 *
 * Owns: Jacobian points (x = X/Z^2, y = Y/Z^3, Z = 0 is the identity) and affine points, in
 * Montgomery form. Formulas from the Explicit-Formulas Database for a = -3: doubling
 * dbl-2001-b, mixed addition madd-2007-bl, addition add-2007-bl, each with the special cases
 * (identity operands, P + P, P + (-P)) handled by branches. Never: secret scalars (variable time).
 */

typedef struct {
    fp_t x, y, z;
} jac_t;

typedef struct {
    fp_t x, y;
} aff_t;

inline void jac_set_identity(jac_t *p) {
    fp_one(&p->x);
    fp_one(&p->y);
    fp_set(&p->z, 0, 0, 0, 0);
}

inline int jac_is_identity(const jac_t *p) { return fp_is_zero(&p->z); }

inline void jac_from_affine(jac_t *r, const aff_t *a) {
    r->x = a->x;
    r->y = a->y;
    fp_one(&r->z);
}

/* dbl-2001-b: delta = Z1^2, gamma = Y1^2, beta = X1*gamma, alpha = 3*(X1-delta)*(X1+delta),
 * X3 = alpha^2 - 8*beta, Z3 = (Y1+Z1)^2 - gamma - delta, Y3 = alpha*(4*beta - X3) - 8*gamma^2.
 * The identity (Z1 = 0) maps to Z3 = 0. In place: r may be p. */
void jac_double(jac_t *r, const jac_t *p) {
    fp_t delta, gamma, beta, alpha, t0, t1;
    fp_sqr(&delta, &p->z);
    fp_sqr(&gamma, &p->y);
    fp_mul(&beta, &p->x, &gamma);
    fp_sub(&t0, &p->x, &delta);
    fp_add(&t1, &p->x, &delta);
    fp_mul(&alpha, &t0, &t1);
    fp_add(&t0, &alpha, &alpha);
    fp_add(&alpha, &alpha, &t0);                /* alpha = 3 (X1 - delta)(X1 + delta) */
    fp_add(&t0, &p->y, &p->z);
    fp_sqr(&t0, &t0);
    fp_sub(&t0, &t0, &gamma);
    fp_sub(&r->z, &t0, &delta);                 /* Z3 (p->y, p->z no longer needed) */
    fp_double(&beta, &beta);
    fp_double(&beta, &beta);                    /* 4 beta */
    fp_sqr(&t0, &alpha);
    fp_double(&t1, &beta);
    fp_sub(&r->x, &t0, &t1);                    /* X3 = alpha^2 - 8 beta */
    fp_sub(&t0, &beta, &r->x);
    fp_mul(&t0, &alpha, &t0);
    fp_sqr(&gamma, &gamma);
    fp_double(&gamma, &gamma);
    fp_double(&gamma, &gamma);
    fp_double(&gamma, &gamma);                  /* 8 gamma^2 */
    fp_sub(&r->y, &t0, &gamma);
}

/* madd-2007-bl, r = p + q with q affine (Z2 = 1): Z1Z1 = Z1^2, U2 = X2*Z1Z1,
 * S2 = Y2*Z1*Z1Z1, H = U2 - X1, HH = H^2, I = 4*HH, J = H*I, rr = 2*(S2 - Y1), V = X1*I,
 * X3 = rr^2 - J - 2*V, Y3 = rr*(V - X3) - 2*Y1*J, Z3 = (Z1 + H)^2 - Z1Z1 - HH.
 * In place: r may be p. */
void jac_add_affine(jac_t *r, const jac_t *p, const aff_t *q) {
    if (jac_is_identity(p)) {
        jac_from_affine(r, q);
        return;
    }
    fp_t z1z1, u2, s2, h, hh, i, j, rr, v, t;
    fp_sqr(&z1z1, &p->z);
    fp_mul(&u2, &q->x, &z1z1);
    fp_mul(&s2, &q->y, &p->z);
    fp_mul(&s2, &s2, &z1z1);
    fp_sub(&h, &u2, &p->x);
    fp_sub(&rr, &s2, &p->y);
    if (fp_is_zero(&h)) {
        if (fp_is_zero(&rr)) {
            jac_t q2;
            jac_from_affine(&q2, q);
            jac_double(r, &q2);           /* p == q */
        } else {
            jac_set_identity(r);          /* p == -q */
        }
        return;
    }
    fp_double(&rr, &rr);
    fp_sqr(&hh, &h);
    fp_double(&i, &hh);
    fp_double(&i, &i);
    fp_mul(&j, &h, &i);
    fp_mul(&v, &p->x, &i);
    fp_t y1j;
    fp_mul(&y1j, &p->y, &j);
    fp_t z3;
    fp_add(&z3, &p->z, &h);
    fp_sqr(&z3, &z3);
    fp_sub(&z3, &z3, &z1z1);
    fp_sub(&r->z, &z3, &hh);
    fp_sqr(&t, &rr);
    fp_sub(&t, &t, &j);
    fp_sub(&t, &t, &v);
    fp_sub(&r->x, &t, &v);
    fp_sub(&t, &v, &r->x);
    fp_mul(&t, &rr, &t);
    fp_double(&y1j, &y1j);
    fp_sub(&r->y, &t, &y1j);
}

/* add-2007-bl, r = p + q: Z1Z1 = Z1^2, Z2Z2 = Z2^2, U1 = X1*Z2Z2, U2 = X2*Z1Z1,
 * S1 = Y1*Z2*Z2Z2, S2 = Y2*Z1*Z1Z1, H = U2 - U1, I = (2*H)^2, J = H*I, rr = 2*(S2 - S1),
 * V = U1*I, X3 = rr^2 - J - 2*V, Y3 = rr*(V - X3) - 2*S1*J, Z3 = ((Z1 + Z2)^2 - Z1Z1 - Z2Z2)*H.
 * In place: r may be p. */
void jac_add(jac_t *r, const jac_t *p, const jac_t *q) {
    if (jac_is_identity(p)) {
        *r = *q;
        return;
    }
    if (jac_is_identity(q)) {
        *r = *p;
        return;
    }
    fp_t z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    fp_sqr(&z1z1, &p->z);
    fp_sqr(&z2z2, &q->z);
    fp_mul(&u1, &p->x, &z2z2);
    fp_mul(&u2, &q->x, &z1z1);
    fp_mul(&s1, &p->y, &q->z);
    fp_mul(&s1, &s1, &z2z2);
    fp_mul(&s2, &q->y, &p->z);
    fp_mul(&s2, &s2, &z1z1);
    fp_sub(&h, &u2, &u1);
    fp_sub(&rr, &s2, &s1);
    if (fp_is_zero(&h)) {
        if (fp_is_zero(&rr)) {
            jac_double(r, p);             /* p == q */
        } else {
            jac_set_identity(r);          /* p == -q */
        }
        return;
    }
    fp_double(&rr, &rr);
    fp_double(&i, &h);
    fp_sqr(&i, &i);
    fp_mul(&j, &h, &i);
    fp_mul(&v, &u1, &i);
    fp_t z3;
    fp_add(&z3, &p->z, &q->z);
    fp_sqr(&z3, &z3);
    fp_sub(&z3, &z3, &z1z1);
    fp_sub(&z3, &z3, &z2z2);
    fp_mul(&r->z, &z3, &h);
    fp_sqr(&t, &rr);
    fp_sub(&t, &t, &j);
    fp_sub(&t, &t, &v);
    fp_sub(&r->x, &t, &v);
    fp_sub(&t, &v, &r->x);
    fp_mul(&t, &rr, &t);
    fp_mul(&s1, &s1, &j);
    fp_double(&s1, &s1);
    fp_sub(&r->y, &t, &s1);
}
