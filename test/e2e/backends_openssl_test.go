//go:build openssl

package e2e

import _ "github.com/gantry-proxy/gantry/tls/openssl"
