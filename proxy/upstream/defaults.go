package upstream

import "time"

// Defaults for zero fields of GroupOptions and HealthCheckOptions.
const (
	DefaultMaxFails        = 3
	DefaultEjectFor        = 10 * time.Second
	DefaultMaxIdleConns    = 32
	DefaultIdleConnTimeout = 60 * time.Second
	DefaultCheckInterval   = 10 * time.Second
	DefaultCheckTimeout    = 2 * time.Second
)
