package settings

// annotationsValue returns the raw bytes of the top-level "annotations"
// member of the JSON object b (the last one, as encoding/json would take),
// or nil when there is none or b is not an object it can walk. It only
// skips over everything else: decoding a whole runtime spec to read a few
// annotations costs the monitor hundreds of KiB of heap it keeps for its
// lifetime. A key spelled with escapes is not recognised; engines write
// it plainly.
func annotationsValue(b []byte) []byte {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	var found []byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil
		}
		keyEnd := skipString(b, i)
		if keyEnd < 0 {
			return nil
		}
		key := b[i:keyEnd]
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return nil
		}
		start := skipSpace(b, i+1)
		end := skipValue(b, start)
		if end < 0 {
			return nil
		}
		if string(key) == `"annotations"` {
			found = b[start:end]
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil
		}
		switch b[i] {
		case '}':
			return found
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1 if it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
// Containers are skipped by counting brackets outside strings; scalars run
// to the next delimiter.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
