package httpapi

import "time"

// SetKeepAlive changes the stream keep-alive interval (tests) and returns
// a function that restores it.
func SetKeepAlive(d time.Duration) func() {
	old := keepAlive
	keepAlive = d
	return func() { keepAlive = old }
}
