// Package pluginrpc is what both sides of every plugin kind share, outside
// the host: the mapping of errors across the process boundary (errors.go),
// the stream handshake of server streams (stream.go) and the holder of a
// plugin process's one configured instance (holder.go).
//
// The messages and services themselves are generated from each kind's
// contract, plugins/<kind>/proto/<kind>.proto (make proto); each kind's
// client.go and server.go adapt its Go interface to them.
package pluginrpc
