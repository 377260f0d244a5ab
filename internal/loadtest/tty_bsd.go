//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package loadtest

import "golang.org/x/sys/unix"

const ioctlReadTermios = unix.TIOCGETA
