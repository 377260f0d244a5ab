package loadtest

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// Simulated proxies are named lt0000000, lt0000001, … (stable across runs,
// so re-running against the same tenant reuses the same proxies instead of
// growing it) and sit at addresses drawn from 11.0.0.0/8: a public-looking
// block with 16.7 M addresses, enough for 10 M proxies, never routed to by
// this tool (the addresses only travel in X-Forwarded-For).
//
// Proxy i at generation g (how many times its IP changed in this run) has
// address 11.0.0.0 + ((i + g·N) mod 2²⁴): stable per proxy, and different from
// its previous one at every change as long as N < 2²⁴.
const (
	namePrefix = "lt"
	nameDigits = 7
	ipBase     = uint32(11) << 24
	ipSpace    = uint32(1) << 24
)

// ProxyName returns the name of simulated proxy i.
func ProxyName(i int) string {
	s := strconv.Itoa(i)
	if len(s) >= nameDigits {
		return namePrefix + s
	}
	return namePrefix + strings.Repeat("0", nameDigits-len(s)) + s
}

// proxyIndex parses a name made by ProxyName; ok is false for anything
// else.
func proxyIndex(name string) (int, bool) {
	rest, found := strings.CutPrefix(name, namePrefix)
	if !found || len(rest) < nameDigits {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || ProxyName(i) != name {
		return 0, false
	}
	return i, true
}

// fleet is the simulated proxies' state. Between rounds only the
// dispatcher touches it; during a round proxy i is touched only by the one
// worker sending its heartbeat (the round barrier orders the two).
type fleet struct {
	n       int
	gen     []uint32 // per proxy: IP generation
	lastAck []uint32 // per proxy: IPv4 the hub last acknowledged (0 = none yet this run)
	perm    []int32  // partial Fisher–Yates state for picking changers
	rng     *rand.Rand
}

func newFleet(n int, seed uint64) *fleet {
	return &fleet{n: n, gen: make([]uint32, n), lastAck: make([]uint32, n), rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// ip returns proxy i's current simulated address as a uint32.
func (f *fleet) ip(i int) uint32 {
	off := (uint64(i) + uint64(f.gen[i])*uint64(f.n)) % uint64(ipSpace)
	return ipBase + uint32(off)
}

// changeCount is how many proxies change IP per round.
func changeCount(n int, fraction float64) int {
	if fraction <= 0 {
		return 0
	}
	k := int(fraction*float64(n) + 0.5)
	if k == 0 {
		k = 1
	}
	if k > n {
		k = n
	}
	return k
}

// change moves exactly k proxies, picked uniformly at random, to their next
// address.
func (f *fleet) change(k int) {
	if k == 0 {
		return
	}
	if f.perm == nil {
		f.perm = make([]int32, f.n)
		for i := range f.perm {
			f.perm[i] = int32(i)
		}
	}
	for j := 0; j < k; j++ {
		r := j + f.rng.IntN(f.n-j)
		f.perm[j], f.perm[r] = f.perm[r], f.perm[j]
		f.gen[f.perm[j]]++
	}
}

// shuffled returns a random order of the n proxies (cron: each proxy's
// fixed slot in the period).
func (f *fleet) shuffled() []int32 {
	order := make([]int32, f.n)
	for i := range order {
		order[i] = int32(i)
	}
	f.rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	return order
}

func ipString(v uint32) string {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// parseIPv4 returns v as a uint32 when it is an IPv4 address (0 otherwise).
func parseIPv4(s string) uint32 {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return 0
	}
	a = a.Unmap()
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
