package proxy

import "strings"

// routeIndex finds the first route (lowest index) matching a host and a
// path without trying the routes one by one: routes are grouped by host
// (exact hosts in a map, "*." wildcards in a map by suffix, any-host
// routes apart), and each group's path prefixes sit in a radix tree. A
// lookup costs one map probe per label of the host and one walk down a
// tree per candidate group, whatever the number of routes.
type routeIndex struct {
	exact    map[string]*prefixTree
	wildcard map[string]*prefixTree // by suffix, ".example.com"
	anyHost  *prefixTree
}

func newRouteIndex(routes []route) *routeIndex {
	ix := &routeIndex{exact: map[string]*prefixTree{}, wildcard: map[string]*prefixTree{}, anyHost: newPrefixTree()}
	for i := range routes {
		rt := &routes[i]
		t := ix.anyHost
		switch {
		case rt.suffix != "":
			if t = ix.wildcard[rt.suffix]; t == nil {
				t = newPrefixTree()
				ix.wildcard[rt.suffix] = t
			}
		case rt.exact != "":
			if t = ix.exact[rt.exact]; t == nil {
				t = newPrefixTree()
				ix.exact[rt.exact] = t
			}
		}
		t.insert(rt.prefix, int32(i))
	}
	return ix
}

// lookup returns the index of the first route matching host (lower case,
// no port) and path (canonical, no query), or -1.
func (ix *routeIndex) lookup(host, path string) int32 {
	best := ix.anyHost.lookup(path)
	if len(ix.exact) > 0 {
		if t := ix.exact[host]; t != nil {
			best = earlier(best, t.lookup(path))
		}
	}
	if len(ix.wildcard) > 0 {
		// "*.example.com" matches any host ending in ".example.com" with
		// something before it: try the suffix at every dot past the first
		// byte.
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if t := ix.wildcard[host[i:]]; t != nil {
				best = earlier(best, t.lookup(path))
			}
		}
	}
	return best
}

func earlier(a, b int32) int32 {
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

// prefixTree is a radix tree of path prefixes; each node keeps the lowest
// route index whose prefix ends there. Prefixes are plain string prefixes,
// as path_prefix has always been ("/api" matches "/apix").
type prefixTree struct {
	label string
	first int32         // lowest route index ending here, or -1
	kids  []*prefixTree // sorted by label[0]
}

func newPrefixTree() *prefixTree { return &prefixTree{first: -1} }

// insert adds prefix for route idx. Routes are inserted in order, so the
// first index stored at a node is its lowest.
func (n *prefixTree) insert(prefix string, idx int32) {
	for {
		if prefix == "" {
			if n.first < 0 {
				n.first = idx
			}
			return
		}
		k, i := n.kid(prefix[0])
		if k == nil {
			n.kids = append(n.kids, nil)
			copy(n.kids[i+1:], n.kids[i:])
			n.kids[i] = &prefixTree{label: prefix, first: idx}
			return
		}
		l := commonPrefix(k.label, prefix)
		if l < len(k.label) {
			// Split the edge: the shared part becomes a node of its own.
			mid := &prefixTree{label: k.label[:l], first: -1, kids: []*prefixTree{k}}
			k.label = k.label[l:]
			n.kids[i] = mid
			k = mid
		}
		n, prefix = k, prefix[l:]
	}
}

// kid returns the child whose label starts with c and its position, or
// nil and the position where it would go.
func (n *prefixTree) kid(c byte) (*prefixTree, int) {
	lo, hi := 0, len(n.kids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.kids[m].label[0] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(n.kids) && n.kids[lo].label[0] == c {
		return n.kids[lo], lo
	}
	return nil, lo
}

// lookup returns the lowest route index among the prefixes of path.
func (n *prefixTree) lookup(path string) int32 {
	best := n.first
	for len(path) > 0 {
		k, _ := n.kid(path[0])
		if k == nil || !strings.HasPrefix(path, k.label) {
			break
		}
		path = path[len(k.label):]
		n = k
		best = earlier(best, n.first)
	}
	return best
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
