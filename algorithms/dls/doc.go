// Package dls implements the classical dynamic loop self-scheduling (DLS)
// techniques as fixed, non-learning policies: the baselines a learned
// chunk-size policy is measured against. Each technique is a learning.Policy
// whose agents never learn (IsLearning is false); all the agents of an
// episode share one Policy, which plays the part of the master that computes
// chunk sizes, so batch state is shared between them.
//
// The package must not depend on any environment. It reads the observation
// fields listed in Fields by name (checked once, when the Policy is made, and
// then read by index), and answers with a chunk size in units, as an action
// of the environment's action space (which must start at 1 for the action to
// be the number of units).
//
// # Decisions
//
// A decision is made when the master starts serving a worker's request, on
// the master's state at that moment: chunk sizes are computed with the state
// at grant time. Decisions are made one at a time, in the order the master
// serves requests, so the sequence of decisions is the sequence of grants.
// Notation at a decision (the observation field in brackets):
//
//	N       units in the job [job]
//	R       units not yet handed out [remaining]
//	P       live workers [workers], taken as at least 1
//	g       chunks granted before this one [granted]
//	h       the master's time per request [comm_time]
//	c       time per unit at speed 1 [unit_time]
//	s_i, S  the deciding worker's nominal speed, and the sum over the live
//	        workers [speed, speed_sum]
//	mu_i    the deciding worker's measured mean time per unit, 0 while it
//	        has none [mu]
//	M       live workers with measurements [measured]
//	T       sum over them of 1/mu_j [inv_mu_sum]
//	D       sum over them of sigma_j^2/mu_j [d_sum]
//
// A decision may be abandoned without a grant (the worker left); the next
// decision then sees the same g. Batches are therefore counted by g, not by
// decisions, and an abandoned decision takes no slot in its batch.
//
// # Techniques
//
// STATIC: ceil(N/P).
//
// SS, self-scheduling: 1.
//
// FSC, fixed-size chunking (Kruskal and Weiss 1985): the fixed chunk
//
//	K = ( sqrt(2)*N*h / (sigma*P*sqrt(ln P)) )^(2/3)
//
// computed at the episode's first decision, where sigma is the a priori
// standard deviation of a unit's time. The observation does not say how much
// unit costs vary, so FSC takes the coefficient of variation of a unit's cost
// as an option (WithCV) and uses the standard deviation at the mean speed,
// sigma = c*CV*P/S. K is rounded up and kept between 1 and ceil(N/P): with
// no variance (sigma = 0) or one worker (ln P = 0) the formula goes to
// infinity and K is the static ceil(N/P), its limit under that cap; with no
// overhead (h = 0, sigma > 0) it goes to 0 and K is 1.
//
// mFSC, modified FSC (Banicescu et al.): FSC's fixed chunk without its
// a priori sigma and h, sized so that there are about as many chunks as
// FAC2 would cut: FAC2 hands out about P*log2(N/P) chunks, and
//
//	K = int(0.55 + T*ln 2/ln T),  T = ceil(N/P)
//
// rounded to nearest (the 0.55), as the reference implementations compute
// it (DLS4LB's DLS_StartLoop and LB4OMP's kmp_sch_mfsc), at the episode's
// first decision. K is kept between 1 and T; with T = 1 (ln T = 0) it is 1.
// This package follows the references, and the tables show this mFSC: a
// comparison with published results needs the same chunk. An earlier
// version counted FAC2's chunks exactly for N and P (n) and took
// ceil(N/n): 114 instead of 122 on the default scenario (N = 10000, P = 8).
//
// GSS, guided self-scheduling (Polychronopoulos and Kuck 1987): ceil(R/P).
//
// TSS, trapezoid self-scheduling (Tzen and Ni 1993): chunks decrease
// linearly from F = ceil(N/(2P)) to L = 1 over C = ceil(2N/(F+L)) chunks:
// chunk g is max(L, ceil(F - g*delta)), delta = (F-L)/(C-1), computed in
// integers so that it is exact; N and P are those of the first decision. (C
// is 1 only when N is 1, where F = L and delta does not matter.)
//
// FAC2, practical factoring (Hummel, Schonberg and Flynn 1992, x = 2): work
// is handed out in batches of P_b chunks each of ceil(R_b/(2*P_b)) units,
// where R_b and P_b are R and P when the batch starts. A batch starts at the
// episode's first decision and when g reaches the batch's first g plus P_b.
//
// WF, weighted factoring (Hummel et al. 1996): FAC2's batches, with the
// chunk ceil(w_i*R_b/(2*P_b)) for the fixed a priori weight w_i = P*s_i/S
// (nominal speeds, P and S at the decision).
//
// AWF-B, adaptive weighted factoring, batch variant (Carino and Banicescu
// 2008): FAC2's batches with the chunk ceil(w_i*R_b/(2*P_b)), where the
// weight w_i = M*(1/mu_i)/T is worker i's measured rate relative to the
// mean rate of the measured workers, and 1 while it is unmeasured (so the
// weights of the P workers add up to P). The weights are those known when
// the batch started: M and T at the batch's first decision, and mu_i from
// the last observation of worker i seen before the batch started (the one
// that starts it included).
//
// AWF-C, the chunk variant: the weight is computed at every decision from
// the current M, T and mu_i, and the chunk is ceil(w_i*R/(2P)).
//
// AF, adaptive factoring (Banicescu and Liu 2000; Carino and Banicescu 2008):
//
//	chunk = (D' + 2*E*R - sqrt(D'^2 + 4*D'*E*R)) / (2*mu_i)
//
// rounded up, where D' = sum of sigma_j^2/mu_j and E = 1/(sum of 1/mu_j)
// over all P workers. Published implementations disagree on whether D sums
// sigma or sigma^2; this package uses sigma^2, as in the derivation. The
// formula's sums run over every worker, and only M of them are measured:
// the unmeasured ones are taken to perform like the measured average, so
// D' = D*P/M and E = M/(P*T). The formula is evaluated in the equivalent
// form 2*E^2*R^2 / (mu_i*(D' + 2*E*R + sqrt(D'^2 + 4*D'*E*R))), which does
// not lose precision when D' is large. Until worker i is measured (mu_i = 0,
// or M = 0) its chunk is FAC2's probe ceil(R/(2P)).
//
// # Rounding and limits
//
// Integer formulas are rounded up exactly. Real-valued sizes are rounded up
// ignoring a relative excess of 1e-12 (floating-point noise), so that a size
// that is an integer in exact arithmetic is not bumped to the next one;
// NaN and sizes below 1 become 1, and sizes are capped at math.MaxInt32.
// Every chunk is then clamped to [1, max(1, R)], and to the action space.
//
// # Episodes
//
// BeginEpisode resets the per-episode state (batches, fixed chunk sizes). A
// Policy whose BeginEpisode is not called detects a new episode itself: a
// decision that sees g = 0 and R = N after one that saw g > 0 starts one.
package dls
