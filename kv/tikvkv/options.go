package tikvkv

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tikv/client-go/v2/config"

	"github.com/protoql/protoql/kv"
)

// Options configures a Store. Open and New start from DefaultOptions and
// apply the Option functions in order.
type Options struct {
	// Prefix is prepended to every key the store writes and reads, so that
	// several protoql databases (or protoql and other applications) can share
	// one TiKV cluster; keys outside the prefix are invisible. Default none.
	Prefix []byte

	// Retries is how many times Update and Apply run a transaction again
	// after it lost a write conflict, before giving up with an error that
	// wraps kv.ErrConflict. Zero means no retry. Default 10.
	Retries int

	// RetryBackoff is the pause before the first retry; each further retry
	// doubles it, up to MaxRetryBackoff, and every pause is jittered (a
	// random duration in [d/2, d)) so that colliding transactions spread
	// out. Defaults 2ms and 200ms.
	RetryBackoff, MaxRetryBackoff time.Duration

	// LockReads adds every key read with Txn.Get inside Update to the
	// transaction's conflict set (as a TiKV lock-only mutation), so that an
	// Update whose point reads were overwritten by a concurrent commit
	// retries instead of committing a stale decision. Keys visited by
	// iterators are not added. See the package doc. Default true.
	LockReads bool

	// MaxKeySize bounds the length of a key, in bytes, not counting
	// Prefix; longer keys are refused with kv.ErrInvalid. tikvkv needs some
	// bound to start reverse scans of an unprefixed store from a real key
	// (see the package doc); TiKV itself wants small keys. Default 8 KiB.
	MaxKeySize int

	// MaxDeleteRangeKeys bounds how many keys one DeleteRange (in a Batch or
	// a Txn) may delete: TiKV's transactional API has no range deletion, so
	// tikvkv scans the range and deletes each key inside the transaction.
	// A larger range fails with ErrRangeTooLarge and deletes nothing.
	// Default 1<<20.
	MaxDeleteRangeKeys int

	// EntrySizeLimit bounds one stored key plus value, in bytes (the value
	// carries one extra format byte). Default 6 MiB, TiDB's default
	// txn-entry-size-limit, under TiKV's 8 MiB raft-entry-max-size.
	EntrySizeLimit uint64

	// TxnSizeLimit bounds the bytes of keys and values written by one
	// transaction (an Apply or an Update), counting deleted keys. Default
	// 100 MiB, TiDB's default txn-total-size-limit.
	TxnSizeLimit uint64

	// ScanBatchSize is how many pairs an iterator fetches from TiKV per
	// request. Default 256 (client-go's default).
	ScanBatchSize int

	// Security holds the TLS files Open uses to talk to PD and TiKV. Empty
	// means plaintext. New ignores it: the KVStore passed to New is already
	// connected.
	Security config.Security
}

// Option sets a field of Options.
type Option func(*Options)

// DefaultOptions returns the options Open and New start from.
func DefaultOptions() Options {
	return Options{
		Retries:            10,
		RetryBackoff:       2 * time.Millisecond,
		MaxRetryBackoff:    200 * time.Millisecond,
		LockReads:          true,
		MaxKeySize:         8 << 10,
		MaxDeleteRangeKeys: 1 << 20,
		EntrySizeLimit:     6 << 20,
		TxnSizeLimit:       100 << 20,
		ScanBatchSize:      256,
	}
}

// WithPrefix sets Options.Prefix. The prefix is copied.
func WithPrefix(prefix []byte) Option {
	p := bytes.Clone(prefix)
	return func(o *Options) { o.Prefix = p }
}

// WithRetries sets Options.Retries.
func WithRetries(n int) Option { return func(o *Options) { o.Retries = n } }

// WithRetryBackoff sets Options.RetryBackoff and Options.MaxRetryBackoff.
func WithRetryBackoff(first, max time.Duration) Option {
	return func(o *Options) { o.RetryBackoff, o.MaxRetryBackoff = first, max }
}

// WithLockReads sets Options.LockReads.
func WithLockReads(lock bool) Option { return func(o *Options) { o.LockReads = lock } }

// WithMaxKeySize sets Options.MaxKeySize.
func WithMaxKeySize(n int) Option { return func(o *Options) { o.MaxKeySize = n } }

// WithMaxDeleteRangeKeys sets Options.MaxDeleteRangeKeys.
func WithMaxDeleteRangeKeys(n int) Option { return func(o *Options) { o.MaxDeleteRangeKeys = n } }

// WithTxnLimits sets Options.EntrySizeLimit and Options.TxnSizeLimit.
func WithTxnLimits(entry, total uint64) Option {
	return func(o *Options) { o.EntrySizeLimit, o.TxnSizeLimit = entry, total }
}

// WithScanBatchSize sets Options.ScanBatchSize.
func WithScanBatchSize(n int) Option { return func(o *Options) { o.ScanBatchSize = n } }

// WithSecurity sets Options.Security.
func WithSecurity(s config.Security) Option { return func(o *Options) { o.Security = s } }

// WithTLS sets Options.Security from PEM files: the CA that signed the
// cluster's certificates, and this client's certificate and key.
func WithTLS(caFile, certFile, keyFile string) Option {
	return WithSecurity(config.NewSecurity(caFile, certFile, keyFile, nil))
}

func buildOptions(opts []Option) Options {
	o := DefaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func (o *Options) validate() error {
	switch {
	case o.Retries < 0:
		return fmt.Errorf("tikvkv: %w: Retries %d is negative", kv.ErrInvalid, o.Retries)
	case o.MaxKeySize <= 0 || o.MaxKeySize > maxKeyLen-len(o.Prefix):
		return fmt.Errorf("tikvkv: %w: MaxKeySize %d is not in [1, %d]", kv.ErrInvalid, o.MaxKeySize, maxKeyLen-len(o.Prefix))
	case o.MaxDeleteRangeKeys <= 0:
		return fmt.Errorf("tikvkv: %w: MaxDeleteRangeKeys %d is not positive", kv.ErrInvalid, o.MaxDeleteRangeKeys)
	case o.RetryBackoff < 0 || o.MaxRetryBackoff < o.RetryBackoff:
		return fmt.Errorf("tikvkv: %w: retry backoff from %v to %v", kv.ErrInvalid, o.RetryBackoff, o.MaxRetryBackoff)
	}
	return nil
}

// maxKeyLen is the longest key client-go's transaction buffer accepts.
const maxKeyLen = 1<<16 - 1
