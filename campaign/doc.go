// Package campaign runs evaluation campaigns: a grid of configurations,
// each repeated with recorded seeds, every method run on every repetition
// with the same seed (so on the same workload and fault plan), results
// written as they complete and summarised with means, 95% confidence
// intervals and paired significance tests between methods.
//
// A campaign runs through a Runner, which maps a Config (jobs, agents,
// arrival pattern, faults) onto episodes of an environment and names the
// methods compared; Seed003 is the resilient-scheduling seed's campaign of
// 26 configurations over five dimensions. Run writes three files to its
// directory: campaign.json (the configurations, repetitions, methods and
// seed), results.jsonl (one Record per run, appended as each completes) and
// summary.json (Summarize's statistics). A campaign killed half-way is
// resumed by running it again into the same directory: the runs recorded
// are skipped, and a last line cut short is dropped; a directory holding
// another campaign's results is refused.
//
// Runs go in parallel (Options.Workers); each run is an independent
// simulated episode, so the results do not depend on the number of
// workers or on the order runs complete in, only the order of the lines of
// results.jsonl does.
//
// The package is top-level because campaigns are not particular to one
// environment. It depends on faults (the configurations' fault specs) and
// gonum's statistics; it must not depend on any environment, algorithm or
// the CLI: a Runner brings the environment. Its plots are in
// campaign/campaignplot.
package campaign
