package broker

// DropConnection closes the client's current connection as a broker node
// that died would, for the tests of what calls in flight do then.
func DropConnection(r *RPC) {
	if st := r.state.Load(); st != nil {
		st.conn.Close()
	}
}

// Connection is the client's current connection (nil between two).
func Connection(r *RPC) any {
	if st := r.state.Load(); st != nil {
		return st.conn
	}
	return nil
}
