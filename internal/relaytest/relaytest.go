// Package relaytest is a TCP relay that a test puts between a client and a
// server (PostgreSQL, Redis) to take the connection path away without
// touching the server others use: Cut (refuse connections: the server is
// down), Stall (accept and never answer: the server is slow), Restore.
package relaytest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards connections on its address to a target.
type Relay struct {
	t      testing.TB
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	stalled bool
	conns   []net.Conn
}

// New starts a relay on a free loopback port to target (host:port); it is
// cut when t ends.
func New(t testing.TB, target string) *Relay {
	r := &Relay{t: t, target: target}
	r.listen("127.0.0.1:0")
	t.Cleanup(r.Cut)
	return r
}

// Addr is the relay's host:port, which clients connect to.
func (r *Relay) Addr() string { return r.addr }

func (r *Relay) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.serve(c)
		}
	}()
}

func (r *Relay) serve(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, c)
	if r.stalled {
		go io.Copy(io.Discard, c) // swallow, never answer
		return
	}
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	r.conns = append(r.conns, up)
	go func() { io.Copy(up, c); up.Close() }()
	go func() { io.Copy(c, up); c.Close() }()
}

// dropConns breaks every open connection.
func (r *Relay) dropConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// Cut stops listening and breaks every connection: the server is down.
func (r *Relay) Cut() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	r.mu.Unlock()
	r.dropConns()
}

// Stall breaks every connection and, while on, accepts new ones without
// answering.
func (r *Relay) Stall(on bool) {
	r.mu.Lock()
	r.stalled = on
	r.mu.Unlock()
	r.dropConns()
}

// Restore listens again on the same address: the server is back.
func (r *Relay) Restore() { r.listen(r.addr) }
