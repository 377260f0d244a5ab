//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package loadtest

import "os"

// IsTerminal reports false on platforms without a termios check: no
// progress bar there.
func IsTerminal(*os.File) bool { return false }
