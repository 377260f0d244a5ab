// Package loadtest is the engine of `proxyhub-loadtest`: it simulates a
// fleet of proxies heartbeating a running hub, measures throughput and
// latency, and checks afterwards, through the audit API, that every IP change
// the hub acknowledged was recorded exactly once.
//
// The engine has three modes that share one dispatcher and one worker pool:
//
//   - steady: heartbeats at a target rate for a duration, proxies in turn;
//   - burst: every proxy at once (like the top of a minute), after one
//     registration pass, for a number of rounds;
//   - cron: every proxy once per period at its own fixed offset in the
//     period (as deploy/cron/install.sh spreads a fleet), with time
//     compressed by a factor.
//
// A round is one heartbeat of every proxy; before each round but the first a
// fraction of the proxies move to a new simulated address (sent as
// X-Forwarded-For from a trusted-proxy address), so the IP-change path is
// exercised. A proxy never has two heartbeats in flight: rounds are separated
// by a barrier, which is what makes the tool's record of the IP the hub last
// acknowledged for each proxy exact.
package loadtest
