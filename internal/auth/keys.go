package auth

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twofold-auth/twofold/internal/seal"
)

// keyring holds the current key ring and reloads it once when a sealed value
// names a key it lacks: `twofold keys rotate` may have added one to the key
// file while this process runs.
type keyring struct {
	ring   atomic.Pointer[seal.Ring]
	reload func() (*seal.Ring, error)
}

func newKeyring(r *seal.Ring, reload func() (*seal.Ring, error)) *keyring {
	k := &keyring{reload: reload}
	k.ring.Store(r)
	return k
}

func (k *keyring) seal(plaintext []byte, ad string) (string, error) {
	return k.ring.Load().Seal(plaintext, []byte(ad))
}

func (k *keyring) open(sealed, ad string) ([]byte, error) {
	p, err := k.ring.Load().Open(sealed, []byte(ad))
	if errors.Is(err, seal.ErrUnknownKey) && k.reload != nil {
		r, rerr := k.reload()
		if rerr != nil {
			return nil, fmt.Errorf("reload keys: %w", rerr)
		}
		k.ring.Store(r)
		p, err = r.Open(sealed, []byte(ad))
	}
	return p, err
}

// adFor is the associated data a sealed value of this kind and id is bound to.
func adFor(kind, id string) (string, error) {
	switch kind {
	case "totp", "totp_pending":
		return "totp:" + id, nil
	case "setting":
		return "setting:" + id, nil
	case "sms", "sms_pending":
		return "sms:" + id, nil
	case "delivery":
		return "delivery:" + id, nil
	}
	return "", fmt.Errorf("unknown sealed kind %q", kind)
}

// CheckKeys makes sure this process can open what the database holds sealed,
// creating the server-wide backup-code key if it is the first to start. It
// fails when the database was sealed under a key this process lacks: an
// instance started with a different TWOFOLD_ENCRYPTION_KEY, or a lost key file.
func (s *Service) CheckKeys(ctx context.Context) error {
	if _, err := s.backupKey(ctx); err != nil {
		if errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, seal.ErrCorrupt) {
			return fmt.Errorf("the database holds secrets sealed under an encryption key this process does not have: "+
				"every instance must use the same TWOFOLD_ENCRYPTION_KEY (or key file): %w", err)
		}
		return fmt.Errorf("check encryption key: %w", err)
	}
	return nil
}

// RotateKeys re-seals every value not sealed under the primary key with the
// primary key. Values stay readable throughout: each is replaced by one
// compare-and-set. It returns how many values it re-sealed and how many are
// still under older keys (0 when done).
func (s *Service) RotateKeys(ctx context.Context) (resealed, remaining int, err error) {
	primary := s.keys.ring.Load().Primary().ID()
	for pass := 0; pass < 3; pass++ {
		vals, err := s.store.SealedValues(ctx)
		if err != nil {
			return resealed, 0, fmt.Errorf("rotate keys: %w", err)
		}
		remaining = 0
		for _, v := range vals {
			id, err := seal.KeyID(v.Value)
			if err != nil {
				return resealed, 0, fmt.Errorf("rotate keys: %s %s: %w", v.Kind, v.ID, err)
			}
			if id == primary {
				continue
			}
			ad, err := adFor(v.Kind, v.ID)
			if err != nil {
				return resealed, 0, err
			}
			plain, err := s.keys.open(v.Value, ad)
			if err != nil {
				return resealed, 0, fmt.Errorf("rotate keys: open %s %s: %w", v.Kind, v.ID, err)
			}
			next, err := s.keys.seal(plain, ad)
			clear(plain)
			if err != nil {
				return resealed, 0, fmt.Errorf("rotate keys: seal: %w", err)
			}
			ok, err := s.store.ReplaceSealed(ctx, v.Kind, v.ID, v.Value, next)
			if err != nil {
				return resealed, 0, fmt.Errorf("rotate keys: %w", err)
			}
			if ok {
				resealed++
			} else {
				remaining++ // changed meanwhile; the next pass looks again
			}
		}
		if remaining == 0 {
			return resealed, 0, nil
		}
	}
	return resealed, remaining, nil
}

// CheckKeysReadOnly is CheckKeys for a command that must not write (the
// CLI): it opens the server-wide backup-code key, or when there is none yet
// any one sealed value, and creates nothing. A database that holds nothing
// sealed yet cannot tell a wrong key, and passes.
func (s *Service) CheckKeysReadOnly(ctx context.Context) error {
	kind, id := "setting", backupKeySetting
	v, err := s.store.Setting(ctx, backupKeySetting)
	if errors.Is(err, ErrNotFound) {
		var vals []Sealed
		if vals, err = s.store.SealedValues(ctx); err == nil {
			if len(vals) == 0 {
				return nil
			}
			kind, id, v = vals[0].Kind, vals[0].ID, vals[0].Value
		}
	}
	if err != nil {
		return fmt.Errorf("check encryption key: %w", err)
	}
	ad, err := adFor(kind, id)
	if err != nil {
		return err
	}
	plain, err := s.keys.open(v, ad)
	if err != nil {
		if errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, seal.ErrCorrupt) {
			return fmt.Errorf("the database holds secrets sealed under an encryption key this process does not have: "+
				"use the server's TWOFOLD_ENCRYPTION_KEY (or key file in its --data-dir): %w", err)
		}
		return fmt.Errorf("check encryption key: %w", err)
	}
	clear(plain)
	return nil
}
