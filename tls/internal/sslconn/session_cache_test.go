package sslconn

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSessionCacheEvictsLeastRecentlyUsed(t *testing.T) {
	sc := newSessionCache(2)
	a, b, c := &fakeSession{}, &fakeSession{}, &fakeSession{}
	sc.put("a", a, nil, nil)
	sc.put("b", b, nil, nil)
	sc.with("a", func(cs *cachedSession) { require.NotNil(t, cs) }) // a is now the most recent
	sc.put("c", c, nil, nil)
	assert.Equal(t, 2, sc.len())
	assert.Equal(t, int32(1), b.closed.Load(), "the evicted session is closed")
	assert.Zero(t, a.closed.Load())
	sc.with("b", func(cs *cachedSession) { assert.Nil(t, cs) })
}

func TestSessionCacheReplaces(t *testing.T) {
	sc := newSessionCache(2)
	old, fresh := &fakeSession{}, &fakeSession{}
	sc.put("a", old, nil, nil)
	sc.put("a", fresh, nil, nil)
	assert.Equal(t, 1, sc.len())
	assert.Equal(t, int32(1), old.closed.Load())
	sc.with("a", func(cs *cachedSession) { assert.Same(t, fresh, cs.sess) })
}

func TestSessionCacheCloseClosesAll(t *testing.T) {
	sc := newSessionCache(8)
	var all []*fakeSession
	for i := range 5 {
		s := &fakeSession{}
		all = append(all, s)
		sc.put(fmt.Sprint(i), s, nil, nil)
	}
	sc.close()
	assert.Equal(t, 0, sc.len())
	for _, s := range all {
		assert.Equal(t, int32(1), s.closed.Load())
	}
	late := &fakeSession{}
	sc.put("late", late, nil, nil)
	assert.Equal(t, int32(1), late.closed.Load(), "a closed cache keeps nothing")
	sc.with("0", func(cs *cachedSession) { assert.Nil(t, cs) })
}
