package sslconn

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitSCTList(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want [][]byte
	}{
		{"two", []byte{0, 7, 0, 2, 'a', 'b', 0, 1, 'c'}, [][]byte{[]byte("ab"), []byte("c")}},
		{"empty", nil, nil},
		{"bad total", []byte{0, 9, 0, 1, 'a'}, nil},
		{"truncated entry", []byte{0, 3, 0, 5, 'a'}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, splitSCTList(tc.in)) })
	}
}
