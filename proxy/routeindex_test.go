package proxy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// linearFirstMatch is the documented meaning of routes: tried in order,
// the first match wins.
func linearFirstMatch(routes []route, host, path string) int32 {
	for i := range routes {
		if routes[i].matches(host, path) {
			return int32(i)
		}
	}
	return -1
}

func routeFor(host, prefix string) route {
	rt := route{prefix: prefix}
	if strings.HasPrefix(host, "*.") {
		rt.suffix = host[1:]
	} else {
		rt.exact = host
	}
	return rt
}

// TestRouteIndexAgreesWithFirstMatch compares the compiled router with the
// linear first-match reading on random route sets and requests drawn from
// small alphabets, so that prefixes nest, share edges and repeat, and
// wildcards overlap exact hosts.
func TestRouteIndexAgreesWithFirstMatch(t *testing.T) {
	hosts := []string{"", "a.com", "b.a.com", "*.a.com", "*.b.a.com", "c.com", "*.com", "x.b.a.com"}
	reqHosts := []string{"a.com", "b.a.com", "x.b.a.com", "y.x.b.a.com", "c.com", "com", ".a.com", "d.org", ""}
	segs := []string{"", "/", "/a", "/ab", "/a/", "/a/b", "/api", "/api/", "/api/v1", "/apix", "/b", "/%3F"}
	rng := rand.New(rand.NewPCG(1, 2))
	randPath := func() string {
		var b strings.Builder
		for n := rng.IntN(4); n >= 0; n-- {
			b.WriteString(segs[rng.IntN(len(segs))])
		}
		return b.String()
	}
	for set := 0; set < 500; set++ {
		routes := make([]route, 1+rng.IntN(20))
		for i := range routes {
			routes[i] = routeFor(hosts[rng.IntN(len(hosts))], randPath())
		}
		ix := newRouteIndex(routes)
		for q := 0; q < 200; q++ {
			host, path := reqHosts[rng.IntN(len(reqHosts))], randPath()
			if got, want := ix.lookup(host, path), linearFirstMatch(routes, host, path); got != want {
				t.Fatalf("routes %+v, request %q %q: index chose %d, first match is %d", routes, host, path, got, want)
			}
		}
	}
}

// benchRoutes makes n routes over distinct hosts, wildcards and path
// prefixes, with a catch-all last; the request hits a route near the end.
func benchRoutes(n int) ([]route, string, string) {
	routes := make([]route, 0, n)
	for i := 0; len(routes) < n-1; i++ {
		switch i % 4 {
		case 0:
			routes = append(routes, routeFor(fmt.Sprintf("svc%d.example.com", i), "/"))
		case 1:
			routes = append(routes, routeFor(fmt.Sprintf("*.tenant%d.example.com", i), "/api/"))
		case 2:
			routes = append(routes, routeFor("", fmt.Sprintf("/app%d/", i)))
		default:
			routes = append(routes, routeFor("shared.example.com", fmt.Sprintf("/v%d/users/", i)))
		}
	}
	routes = append(routes, routeFor("", ""))
	return routes, "shared.example.com", fmt.Sprintf("/v%d/users/42", (n-2)/4*4+3)
}

func BenchmarkRouteSelection(b *testing.B) {
	for _, n := range []int{1, 1000, 100000} {
		routes, host, path := benchRoutes(n)
		ix := newRouteIndex(routes)
		want := linearFirstMatch(routes, host, path)
		b.Run(fmt.Sprintf("compiled/routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ix.lookup(host, path) != want {
					b.Fatal("wrong route")
				}
			}
		})
		if n <= 1000 {
			b.Run(fmt.Sprintf("linear/routes=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if linearFirstMatch(routes, host, path) != want {
						b.Fatal("wrong route")
					}
				}
			})
		}
	}
}
