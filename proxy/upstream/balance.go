package upstream

import "fmt"

// Balancer picks the server for a request among a group's servers.
type Balancer interface {
	// Pick returns an available server (neither ejected nor unhealthy at
	// now, a UnixNano time), or nil when there is none. start rotates
	// where the search begins, so that ties spread over the servers.
	Pick(servers []*Server, start uint64, now int64) *Server
}

// NewBalancer compiles a balance policy by its configuration name; empty
// means round-robin.
func NewBalancer(name string) (Balancer, error) {
	switch name {
	case "", BalanceRoundRobin:
		return roundRobin{}, nil
	case BalanceLeastConn:
		return leastConn{}, nil
	}
	return nil, fmt.Errorf("balance %q (want %s or %s)", name, BalanceRoundRobin, BalanceLeastConn)
}

// roundRobin takes the available servers in turn.
type roundRobin struct{}

func (roundRobin) Pick(servers []*Server, start uint64, now int64) *Server {
	n := uint64(len(servers))
	for i := range n {
		if s := servers[(start+i)%n]; s.available(now) {
			return s
		}
	}
	return nil
}

// leastConn takes the available server with the fewest requests in
// flight for its weight (an SRV record's; 1 otherwise); among equals, the
// first from start.
type leastConn struct{}

func (leastConn) Pick(servers []*Server, start uint64, now int64) *Server {
	n := uint64(len(servers))
	var best *Server
	var bestLoad, bestWeight int64
	for i := range n {
		s := servers[(start+i)%n]
		if !s.available(now) {
			continue
		}
		load, weight := s.inflight.Load(), int64(s.weight.Load())
		// load/weight < bestLoad/bestWeight, without dividing.
		if best == nil || load*bestWeight < bestLoad*weight {
			best, bestLoad, bestWeight = s, load, weight
		}
	}
	return best
}
