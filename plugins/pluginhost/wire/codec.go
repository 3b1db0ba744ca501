// Package wire is the plumbing the plugin shims share: a JSON gRPC codec,
// hand-written service descriptors for unary, server-streaming and
// client-streaming calls, and the mapping of errors across the process
// boundary.
//
// The codec is registered under the content subtype "json". Only calls that
// ask for it (grpc.CallContentSubtype(Codec)) use it, so go-plugin's own
// protobuf services on the same connection (health, broker, stdio,
// controller) are unaffected.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/encoding"
)

// Codec is the gRPC content subtype of every rideshare plugin call.
const Codec = "json"

func init() { encoding.RegisterCodec(jsonCodec{}) }

// jsonCodec marshals messages with encoding/json. Numbers inside interface
// values decode as json.Number (not float64), so int64 column values survive
// the trip; the shims turn them back into int64 with dbapi.Normalize.
type jsonCodec struct{}

func (jsonCodec) Name() string { return Codec }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json codec: marshal %T: %w", v, err)
	}
	return b, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("json codec: unmarshal %T: %w", v, err)
	}
	return nil
}
