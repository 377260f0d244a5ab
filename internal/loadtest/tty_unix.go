//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package loadtest

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal. It is what
// golang.org/x/term.IsTerminal does; x/sys is already a requirement of the
// module, x/term is not.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}
