//go:build boringssl

package e2e

import _ "github.com/gantry-proxy/gantry/tls/boring"
