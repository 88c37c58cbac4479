package counter

// ValidateName returns an InvalidName error unless name matches
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
func ValidateName(name string) error {
	if !ValidName(name) {
		return Errorf(InvalidName, "counter name must be 1 to %d characters: a letter or digit, then letters, digits, '.', '_' or '-'", MaxNameLength)
	}
	return nil
}

// ValidName reports whether name is a valid counter name.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLength || !alnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ValidatePrefix returns an InvalidRequest error unless prefix is "" or
// the start of some valid counter name.
func ValidatePrefix(prefix string) error {
	if prefix != "" && !ValidName(prefix) {
		return Errorf(InvalidRequest, "prefix must be the start of a counter name: up to %d letters, digits, '.', '_' or '-', starting with a letter or digit", MaxNameLength)
	}
	return nil
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ValidateCount returns an InvalidRequest error unless 0 <= count <= MaxCount.
func ValidateCount(count int64) error {
	if count < 0 || count > MaxCount {
		return Errorf(InvalidRequest, "count must be an integer from 0 to %d", MaxCount)
	}
	return nil
}

// ValidateIncrement returns an InvalidRequest error unless by is non-zero and
// within -MaxCount..MaxCount.
func ValidateIncrement(by int64) error {
	if by == 0 || by < -MaxCount || by > MaxCount {
		return Errorf(InvalidRequest, "by must be a non-zero integer from %d to %d", -MaxCount, MaxCount)
	}
	return nil
}

// ValidateShards returns an InvalidRequest error unless 1 <= n <= MaxShards.
func ValidateShards(n int) error {
	if n < 1 || n > MaxShards {
		return Errorf(InvalidRequest, "shards must be an integer from 1 to %d", MaxShards)
	}
	return nil
}
