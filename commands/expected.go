package commands

// Expected is the version a client expects one stream to be at: the version
// of the resource it last saw, sent as If-Match. It guards that one stream:
// a use case takes it for the stream the client named and gives it to that
// stream's write alone (ExecuteAt), while every other stream it writes is
// written with Execute, which expects nothing. So a use case that writes the
// cohort and a project cannot guard the cohort with the project's version,
// and nothing has to be cleared on the way from one stream to the next.
type Expected struct {
	version int64
	set     bool
}

// AnyVersion expects nothing: a write applies to whatever is stored.
var AnyVersion Expected

// ExpectVersion expects the stream at version v.
func ExpectVersion(v int64) Expected { return Expected{version: v, set: true} }

// Allows reports whether a stream at version may be written.
func (e Expected) Allows(version int64) bool { return !e.set || e.version == version }

// Check refuses a stream that is not at the expected version, before a
// use case writes anything else on its behalf.
func (e Expected) Check(version int64) error {
	if !e.Allows(version) {
		return ErrPreconditionFailed
	}
	return nil
}
