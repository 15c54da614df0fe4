package listen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSNIPolicy(t *testing.T) {
	p, err := NewSNIPolicy(SNIOptions{Allow: []string{"API.example.com.", "*.apps.example"}})
	require.NoError(t, err)
	for name, want := range map[string]string{
		"api.example.com":     "",
		"API.EXAMPLE.COM.":    "",
		"a.apps.example":      "",
		"b.a.apps.example":    "",
		"apps.example":        ReasonSNINotAllowed, // the wildcard is not the apex
		"xapps.example":       ReasonSNINotAllowed,
		"www.api.example.com": ReasonSNINotAllowed,
	} {
		assert.Equal(t, want, p.Check(name, true), name)
	}
	assert.Equal(t, "", p.Check("", false), "a missing name is allowed by default")

	refuse, err := NewSNIPolicy(SNIOptions{Missing: SNIMissingRefuse})
	require.NoError(t, err)
	assert.Equal(t, ReasonSNIMissing, refuse.Check("", false))
	assert.Equal(t, ReasonSNIMissing, refuse.Check("", true), "an extension without a host_name is no name")
	assert.Equal(t, "", refuse.Check("any.example", true), "without allow, any name")

	none, err := NewSNIPolicy(SNIOptions{})
	require.NoError(t, err)
	assert.Nil(t, none)
	assert.Equal(t, "", none.Check("", false))

	for _, bad := range []string{"", "*", "a.*.example", "*example.com", "a..b", "bad name", "ex@mple.com"} {
		_, err := NewSNIPolicy(SNIOptions{Allow: []string{"ok.example", bad}})
		var fe *FieldError
		require.ErrorAs(t, err, &fe, bad)
		assert.Equal(t, "allow[1]", fe.Field, bad)
	}
	_, err = NewSNIPolicy(SNIOptions{Missing: "sometimes"})
	require.Error(t, err)
}

func TestJA4Lists(t *testing.T) {
	const a, b = "t13d1516h2_8daaf6152771_e5627efa2ab1", "t13d1312h2_f57a46bbacb6_f50d94e863eb"
	f, err := NewFilter(FilterOptions{JA4: JA4Options{Deny: []string{a}}}, nil)
	require.NoError(t, err)
	assert.True(t, f.JudgesHello())
	assert.Equal(t, ReasonJA4Denied, f.AdmitJA4(a))
	assert.Equal(t, "", f.AdmitJA4(b))

	f, err = NewFilter(FilterOptions{JA4: JA4Options{Allow: []string{b}}}, nil)
	require.NoError(t, err)
	assert.Equal(t, ReasonJA4NotAllowed, f.AdmitJA4(a))
	assert.Equal(t, "", f.AdmitJA4(b))

	f, err = NewFilter(FilterOptions{}, nil)
	require.NoError(t, err)
	assert.False(t, f.JudgesHello())
	assert.Equal(t, "", f.AdmitJA4(a))

	_, err = NewFilter(FilterOptions{JA4: JA4Options{Deny: []string{"t13d1516h2_8daaf6152771"}}}, nil)
	assert.ErrorContains(t, err, "ja4.deny[0]")
}
