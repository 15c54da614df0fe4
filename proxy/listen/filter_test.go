package listen

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterRate(t *testing.T) {
	f, err := NewFilter(FilterOptions{RatePerIP: 1, RateBurst: 3}, nil)
	require.NoError(t, err)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1}
	var got []bool
	for range 5 {
		_, ok := f.Admit(a, "l")
		got = append(got, ok)
	}
	assert.Equal(t, []bool{true, true, true, false, false}, got, "a burst of 3, then refused")
	_, ok := f.Admit(b, "l")
	assert.True(t, ok, "another client has its own bucket")

	// Time refills the bucket: one token per second at rate 1.
	ip, _ := netip.AddrFromSlice(a.IP.To4())
	f.mu.Lock()
	f.buckets[ip].at = f.buckets[ip].at.Add(-2 * time.Second)
	f.mu.Unlock()
	_, ok = f.Admit(a, "l")
	assert.True(t, ok)
}

func tcpAddr(s string) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 40000} }

func TestFilterIPv6Prefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix int
		a, b   string
		shared bool
	}{
		{"same /64 shares one count", 0, "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"different /64s do not", 0, "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"ipv6_prefix 128 counts per address", 128, "2001:db8:1:2::1", "2001:db8:1:2::2", false},
		{"ipv6_prefix 48 widens the count", 48, "2001:db8:1:2::1", "2001:db8:1:ff::1", true},
		{"IPv4 is per address", 0, "192.0.2.1", "192.0.2.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(FilterOptions{MaxConnsPerIP: 1, IPv6Prefix: tt.prefix}, nil)
			require.NoError(t, err)
			ka, ok := f.Admit(tcpAddr(tt.a), "l")
			require.True(t, ok)
			kb, ok := f.Admit(tcpAddr(tt.b), "l")
			assert.Equal(t, !tt.shared, ok, "second client admitted")
			f.Release(kb)
			f.Release(ka)
			_, ok = f.Admit(tcpAddr(tt.b), "l")
			assert.True(t, ok, "the count is given back on release")
		})
	}
}

// TestFilterTablesBoundedPerPrefix: a client cycling through the addresses
// of its /64 leaves one entry in each table, not one per address.
func TestFilterTablesBoundedPerPrefix(t *testing.T) {
	f, err := NewFilter(FilterOptions{MaxConnsPerIP: 20000, RatePerIP: 1, RateBurst: 20000}, nil)
	require.NoError(t, err)
	for i := range 10000 {
		_, ok := f.Admit(tcpAddr(fmt.Sprintf("2001:db8:7:7:%x:%x::1", i>>8, i&0xff)), "l")
		require.True(t, ok, "address %d", i)
	}
	conns, buckets := f.tables()
	assert.Equal(t, 1, conns)
	assert.Equal(t, 1, buckets)
}

func TestFilterOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		o    FilterOptions
		want string
	}{
		{"ipv6_prefix above 128", FilterOptions{IPv6Prefix: 129}, "ipv6_prefix"},
		{"negative ipv6_prefix", FilterOptions{IPv6Prefix: -1}, "ipv6_prefix"},
		{"bad allow entry", FilterOptions{Allow: []string{"10.0.0.0/33"}}, `"10.0.0.0/33"`},
		{"bad deny entry", FilterOptions{Deny: []string{"nope"}}, `"nope"`},
		{"negative limit", FilterOptions{MaxConnsPerIP: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFilter(tt.o, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
