package httpapi

import "time"

// SetKeepAlive changes the stream keep-alive interval (tests) and returns
// a function that restores it.
func SetKeepAlive(d time.Duration) func() {
	old := keepAlive
	keepAlive = d
	return func() { keepAlive = old }
}

// PlainHeartbeatName and AppendHeartbeatAnswer expose the heartbeat
// route's query reader and answer writer to the tests.
var (
	PlainHeartbeatName    = plainHeartbeatName
	AppendHeartbeatAnswer = appendHeartbeatAnswer
)

// SetStreamRecheck changes how often open streams check their credential
// (tests) and returns a function that restores it.
func SetStreamRecheck(d time.Duration) func() {
	old := streamRecheck
	streamRecheck = d
	return func() { streamRecheck = old }
}
