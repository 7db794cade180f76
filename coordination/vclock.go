package coordination

import (
	"sort"
	"strings"
)

// VClock is a vector clock: for each member, how many writes of its the
// clock's holder has seen (seed 000's causal ordering of variable updates).
// A nil VClock is the empty clock.
type VClock map[string]uint64

// Order is how two vector clocks relate.
type Order int8

const (
	// Equal: the same clock.
	Equal Order = iota
	// Before: the first happened before the second (the second has seen it).
	Before
	// After: the first happened after the second.
	After
	// Concurrent: neither has seen the other: concurrent writes.
	Concurrent
)

func (o Order) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return "Order(?)"
}

// Compare orders c against d.
func (c VClock) Compare(d VClock) Order {
	less, more := false, false
	for k, v := range c {
		if w := d[k]; v < w {
			less = true
		} else if v > w {
			more = true
		}
	}
	for k, w := range d {
		if _, ok := c[k]; !ok && w > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Merge returns the least clock that has seen both c and d.
func (c VClock) Merge(d VClock) VClock {
	m := make(VClock, len(c)+len(d))
	for k, v := range c {
		m[k] = v
	}
	for k, v := range d {
		if v > m[k] {
			m[k] = v
		}
	}
	return m
}

// Tick returns a copy of c with member's count one higher: the clock of a
// write by member that has seen c.
func (c VClock) Tick(member string) VClock {
	m := c.Merge(nil)
	m[member]++
	return m
}

// String formats c as {a:1 b:2}, members sorted.
func (c VClock) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(itoa(c[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func itoa(v uint64) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(buf[i:])
		}
	}
}
