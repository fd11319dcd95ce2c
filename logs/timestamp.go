package logs

import "time"

// tsLen is the length of a k8s-file timestamp:
// YYYY-MM-DDTHH:MM:SS.NNNNNNNNN±HH:MM
const tsLen = 35

// nanoAt is where the 9 fraction digits start inside the timestamp.
const nanoAt = 20

// stampCache formats timestamps into a fixed buffer. Everything but the
// nanoseconds changes at most once a second, so the calendar and zone
// arithmetic is redone only when the second (or the zone) changes; the
// usual call just rewrites nine digits. No allocation either way.
type stampCache struct {
	sec   int64
	loc   *time.Location
	valid bool
	buf   [tsLen]byte
}

// format returns the timestamp for t, in t's own location, as a slice of the
// cache's buffer (valid until the next call).
func (c *stampCache) format(t time.Time) []byte {
	if sec := t.Unix(); !c.valid || sec != c.sec || t.Location() != c.loc {
		c.fill(t)
		c.sec, c.loc, c.valid = sec, t.Location(), true
	}
	putDigits(c.buf[nanoAt:nanoAt+9], t.Nanosecond())
	return c.buf[:]
}

// fill writes the per-second part: date, time of day, '.', and the offset
// as ±HH:MM (strftime %z plus the colon conmon inserts; never "Z").
func (c *stampCache) fill(t time.Time) {
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	_, off := t.Zone()
	b := c.buf[:]
	putDigits(b[0:4], year)
	b[4] = '-'
	putDigits(b[5:7], int(month))
	b[7] = '-'
	putDigits(b[8:10], day)
	b[10] = 'T'
	putDigits(b[11:13], hour)
	b[13] = ':'
	putDigits(b[14:16], minute)
	b[16] = ':'
	putDigits(b[17:19], second)
	b[19] = '.'
	b[29] = '+'
	if off < 0 {
		b[29] = '-'
		off = -off
	}
	off /= 60 // seconds of the offset are dropped, as %z does
	putDigits(b[30:32], off/60)
	b[32] = ':'
	putDigits(b[33:35], off%60)
}

// putDigits writes v zero-padded into exactly len(b) decimal digits.
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}
