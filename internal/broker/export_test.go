package broker

// DropConnection closes the client's current connection as a broker node
// that died would, for the tests of what calls in flight do then.
func DropConnection(r *RPC) {
	if st := r.state.Load(); st != nil {
		st.conn.Close()
	}
}
