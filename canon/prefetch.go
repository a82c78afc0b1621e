//go:build amd64 || arm64

package canon

// prefetch asks the CPU to bring the cache line holding *p in, without
// waiting for it: a lookup begun this way costs the caller nothing until it
// reads the line, and lookups begun together wait for memory together.
//
//go:noescape
func prefetch(p *uint64)
