package loadtest

import "testing"

func TestLoadtestFleet_NamesRoundTrip(t *testing.T) {
	for _, i := range []int{0, 7, 123456, 9999999, 12345678} {
		name := ProxyName(i)
		if got, ok := proxyIndex(name); !ok || got != i {
			t.Errorf("proxyIndex(%q) = %d, %t", name, got, ok)
		}
	}
	if ProxyName(42) != "lt0000042" {
		t.Errorf("ProxyName(42) = %q", ProxyName(42))
	}
	for _, bad := range []string{"edge-7", "lt42", "lt00000042", "lt-000042", "lt000004x"} {
		if _, ok := proxyIndex(bad); ok {
			t.Errorf("proxyIndex(%q) accepted a foreign name", bad)
		}
	}
}

func TestLoadtestFleet_EachRoundMovesExactlyTheFractionToNewAddresses(t *testing.T) {
	const n = 1000
	f := newFleet(n, 1)
	before := make([]uint32, n)
	for i := range before {
		before[i] = f.ip(i)
		if before[i]>>24 != 11 {
			t.Fatalf("proxy %d at %s, outside 11.0.0.0/8", i, ipString(before[i]))
		}
	}
	k := changeCount(n, 0.1)
	for round := range 5 {
		f.change(k)
		moved := 0
		for i := range before {
			if ip := f.ip(i); ip != before[i] {
				moved++
				before[i] = ip
			}
		}
		if moved != k {
			t.Fatalf("round %d moved %d proxies, want %d", round, moved, k)
		}
	}
	if changeCount(50, 0.2) != 10 || changeCount(10, 0.001) != 1 || changeCount(10, 0) != 0 || changeCount(10, 1) != 10 {
		t.Error("changeCount")
	}
	if parseIPv4(ipString(ipBase+70000)) != ipBase+70000 || parseIPv4("::1") != 0 || parseIPv4("::ffff:11.0.0.1") != ipBase+1 {
		t.Error("parseIPv4")
	}
}
