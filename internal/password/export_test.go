package password

// SetSlotHook makes h call f while it holds a slot, before hashing; for tests only.
// Call it before h is used.
func (h *Hasher) SetSlotHook(f func()) { h.slotHook = f }
