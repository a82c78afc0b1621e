//go:build !linux

package canon

// mapWords: elsewhere than Linux, tables stay on the Go heap.
func mapWords(size int) []byte { return nil }

func unmapWords(m []byte) {}
