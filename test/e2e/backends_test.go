package e2e

// gostd is in every build; the other backends come in with their tags.
import _ "github.com/gantry-proxy/gantry/tls/gostd"
