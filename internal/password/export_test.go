package password

// SetSlotHook makes h call f while it holds a slot, before hashing; for tests only.
// Call it before h is used.
func (h *Hasher) SetSlotHook(f func()) { h.slotHook = f }

// SetMemoryHook makes h call f while it holds argon2id memory, before hashing; for tests only.
// Call it before h is used.
func (h *Hasher) SetMemoryHook(f func()) { h.memHook = f }

// KeptMemoryKiB lists the sizes of the argon2id working memory h keeps between hashes.
// Call it while h is not hashing.
func (h *Hasher) KeptMemoryKiB() []int {
	var kib []int
	for range len(h.mems) {
		m := <-h.mems
		kib = append(kib, m.KiB())
		h.mems <- m
	}
	return kib
}
