package memkv

// CommitLogLen returns the number of commits the conflict checker keeps.
func (s *Store) CommitLogLen() int { return s.occ.LogLen() }
