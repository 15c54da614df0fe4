package mtls

// Options are the client-identity settings of a listener or a route: who may
// connect (Allow) and what the upstream is told about them (Forward).
type Options struct {
	// Allow are the rules a verified client certificate must pass.
	Allow Rules `yaml:"allow"`
	// Forward says which identity headers Gantry sets on the upstream
	// request.
	Forward Forward `yaml:"forward"`
}

// Empty reports whether o asks for nothing.
func (o *Options) Empty() bool { return o.Allow.Empty() && o.Allow.Match == "" && !o.Forward.Any() }

// Validate checks o; errors are *FieldError with keys relative to o
// ("allow.uri[0]", "forward.xfcc_cert").
func (o *Options) Validate() error {
	if _, err := Compile(o.Allow); err != nil {
		if fe, ok := err.(*FieldError); ok {
			return &FieldError{Field: "allow." + fe.Field, Err: fe.Err}
		}
		return err
	}
	return o.Forward.Validate()
}
