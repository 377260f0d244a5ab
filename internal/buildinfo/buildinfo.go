// Package buildinfo tells which build of proxyhub is running: the version
// (set at link time, else the module's), the commit and its time as the
// Go toolchain recorded them from the checkout it built, and the Go
// release. `proxyhub version` prints it and /metrics exposes it as
// proxyhub_build_info.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// version is set by release builds:
//
//	go build -ldflags "-X github.com/proxyhub/proxyhub/internal/buildinfo.version=v1.2.3" ./cmd/proxyhub
var version string

// Info describes a build.
type Info struct {
	Version   string // release version, or "devel"
	Commit    string // VCS revision the binary was built from, "unknown" when not recorded
	Modified  bool   // built from a checkout with uncommitted changes
	Time      string // the commit's time (RFC 3339), when recorded
	GoVersion string
}

var (
	once sync.Once
	info Info
)

// Get returns the running build's Info.
func Get() Info {
	once.Do(func() {
		info = Info{Version: version, Commit: "unknown", GoVersion: runtime.Version()}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			if info.Version == "" {
				info.Version = "devel"
			}
			return
		}
		if info.Version == "" {
			info.Version = bi.Main.Version
		}
		if info.Version == "" || info.Version == "(devel)" {
			info.Version = "devel"
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	})
	return info
}

// String is the one line `proxyhub version` prints.
func (i Info) String() string {
	commit := i.Commit
	if i.Modified {
		commit += " (modified)"
	}
	s := fmt.Sprintf("proxyhub %s commit %s", i.Version, commit)
	if i.Time != "" {
		s += " " + i.Time
	}
	return s + " " + i.GoVersion
}
