package image

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
)

// Auth is a registry credential as the CRI's AuthConfig carries it.
type Auth struct {
	Username, Password string
	// Auth is base64("username:password"), used when Username is empty.
	Auth          string
	IdentityToken string
	RegistryToken string
}

// pullOp is one pull in flight, shared by every caller that asks for the
// same reference with the same credentials.
type pullOp struct {
	done chan struct{} // closed when id and err are final
	id   string
	err  error

	// Protected by Service.mu.
	waiters int
	cancel  context.CancelCauseFunc
}

// errStalled is the cancel cause of a pull that made no progress.
var errStalled = errors.New("pull made no progress")

// Pull pulls ref (normalised as Normalize does) into the store and returns
// the image id. Concurrent pulls of the same reference with the same
// credentials share one download; the download is cancelled only when
// every caller has gone away, or when it receives nothing for
// PullProgressTimeout. A failed pull leaves no image and no layer behind.
//
// Errors: ErrInvalidArgument for a bad reference or credential; the
// kubelet's RegistryUnavailable / SignatureValidationFailed classes (see
// classifyPullError); ErrUnauthenticated, ErrNotFound, ErrPermissionDenied.
func (s *Service) Pull(ctx context.Context, ref string, auth *Auth) (string, error) {
	named, err := Normalize(ref)
	if err != nil {
		return "", err
	}
	sys := *s.sys
	if err := applyAuth(&sys, auth); err != nil {
		return "", err
	}
	s.useRegistriesConf(&sys)
	key := named.String() + "\x00" + authFingerprint(auth)

	s.mu.Lock()
	op := s.pulls[key]
	if op == nil {
		pullCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		// Pessimistic until proven otherwise: a panic cannot report success.
		op = &pullOp{done: make(chan struct{}), err: errors.New("pull did not complete"), cancel: cancel}
		s.pulls[key] = op
		go s.runPull(pullCtx, key, op, named, &sys)
	}
	op.waiters++
	s.mu.Unlock()

	select {
	case <-op.done:
		return op.id, op.err
	case <-ctx.Done():
		s.mu.Lock()
		op.waiters--
		if op.waiters == 0 {
			op.cancel(fmt.Errorf("every caller of the pull went away: %w", context.Cause(ctx)))
		}
		s.mu.Unlock()
		return "", fmt.Errorf("pulling %s: %w", named, ctx.Err())
	}
}

func (s *Service) runPull(ctx context.Context, key string, op *pullOp, named reference.Named, sys *types.SystemContext) {
	defer func() {
		if p := recover(); p != nil {
			op.err = fmt.Errorf("pulling %s: internal error: %v", named, p)
		}
		s.mu.Lock()
		delete(s.pulls, key)
		onlyPull := len(s.pulls) == 0
		s.mu.Unlock()
		if op.err != nil && onlyPull {
			// Roll back: layers the failed pull committed are used by no
			// image. With another pull in flight its layers would look
			// unused too, so the sweep waits for a quiet moment (the next
			// failure with nothing else running, or the next start).
			if err := s.removeUnusedLayers(); err != nil {
				s.opts.Log.Warn("rolling back a failed pull", "image", named.String(), "error", err)
			}
		}
		op.cancel(nil)
		close(op.done)
	}()
	op.id, op.err = s.pull(ctx, op.cancel, named, sys)
}

func (s *Service) pull(ctx context.Context, cancel context.CancelCauseFunc, named reference.Named, sys *types.SystemContext) (string, error) {
	log := s.opts.Log.With("image", named.String())
	start := time.Now()

	srcRef, err := docker.NewReference(named)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %v: %w", named, err, errdefs.ErrInvalidArgument)
	}
	destRef, err := istorage.Transport.NewStoreReference(s.store, named, "")
	if err != nil {
		return "", fmt.Errorf("store reference for %s: %w", named, err)
	}
	policy, err := s.policy()
	if err != nil {
		return "", err
	}
	policyCtx, err := signature.NewPolicyContext(policy)
	if err != nil {
		return "", fmt.Errorf("signature policy: %w", err)
	}
	defer policyCtx.Destroy() //nolint:errcheck // nothing to do about it

	progress := make(chan types.ProgressProperties, 16)
	watchDone := make(chan struct{})
	bytesRead := make(chan uint64, 1)
	go s.watchProgress(log, progress, cancel, watchDone, bytesRead)

	log.Info("pulling image")
	_, err = copy.Image(ctx, policyCtx, destRef, srcRef, &copy.Options{
		SourceCtx:            sys,
		DestinationCtx:       sys,
		Progress:             progress,
		ProgressInterval:     time.Second,
		MaxParallelDownloads: uint(s.opts.MaxParallelDownloads),
	})
	close(watchDone)
	total := <-bytesRead
	if s.opts.OnPull != nil {
		s.opts.OnPull(total, time.Since(start), err)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			err = cause
		}
		err = classifyPullError(named, err)
		log.Warn("pull failed", "duration", time.Since(start), "bytes", total, "error", err)
		return "", err
	}
	img, err := istorage.Transport.GetStoreImage(s.store, destRef)
	if err != nil {
		return "", fmt.Errorf("finding pulled image %s: %w", named, err)
	}
	log.Info("pulled image", "id", img.ID, "duration", time.Since(start), "bytes", total)
	return FormatID(img.ID), nil
}

// watchProgress logs progress every 10 seconds and cancels the pull when
// no byte has arrived for PullProgressTimeout. It reports the bytes
// received when done is closed.
func (s *Service) watchProgress(log interface {
	Info(string, ...any)
	Debug(string, ...any)
}, progress <-chan types.ProgressProperties, cancel context.CancelCauseFunc, done <-chan struct{}, total chan<- uint64) {
	timeout := s.opts.PullProgressTimeout
	tick := time.NewTicker(min(timeout/4+time.Millisecond, time.Second))
	defer tick.Stop()
	var (
		last       = time.Now()
		lastLogged = time.Now()
		offsets    = map[string]uint64{}
		sum        uint64
	)
	for {
		select {
		case <-done:
			total <- sum
			return
		case p := <-progress:
			d := p.Artifact.Digest.String()
			if p.Offset > offsets[d] || p.Event == types.ProgressEventNewArtifact || p.Event == types.ProgressEventDone {
				last = time.Now()
			}
			if p.Offset > offsets[d] {
				sum += p.Offset - offsets[d]
				offsets[d] = p.Offset
			}
			if p.Event == types.ProgressEventDone {
				log.Debug("blob fetched", "digest", d, "size", p.Artifact.Size)
			}
		case now := <-tick.C:
			if now.Sub(last) > timeout {
				cancel(fmt.Errorf("%w for %s", errStalled, timeout))
			}
			if now.Sub(lastLogged) >= 10*time.Second {
				lastLogged = now
				log.Info("pull progress", "bytes", sum, "blobs", len(offsets))
			}
		}
	}
}

// useRegistriesConf makes each pull read registries.conf afresh, so that
// edits (new mirrors, a file dropped in later) apply without a restart. A
// missing file means no mirrors: containers/image would refuse a
// configured path that does not exist, so it is pointed at an empty one.
func (s *Service) useRegistriesConf(sys *types.SystemContext) {
	sysregistriesv2.InvalidateCache()
	if _, err := os.Stat(s.opts.RegistriesConf); errors.Is(err, os.ErrNotExist) {
		sys.SystemRegistriesConfPath = s.emptyRegistriesConf()
	}
}

// emptyRegistriesConf is an empty registries.conf of cria's own.
func (s *Service) emptyRegistriesConf() string {
	return filepath.Join(s.opts.StorageRoot, "cria-empty-registries.conf")
}

// policy is the signature policy: the configured file if it exists,
// otherwise accept anything (as containerd does without verifiers).
func (s *Service) policy() (*signature.Policy, error) {
	if s.opts.SignaturePolicy != "" {
		if _, err := os.Stat(s.opts.SignaturePolicy); err == nil {
			p, err := signature.NewPolicyFromFile(s.opts.SignaturePolicy)
			if err != nil {
				return nil, fmt.Errorf("reading signature policy %s: %v: %w", s.opts.SignaturePolicy, err, errdefs.ErrFailedPrecondition)
			}
			return p, nil
		}
	}
	return &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}, nil
}

// applyAuth puts auth into sys. Without one, containers/image falls back
// to the node's own credential files (auth.json, ~/.docker/config.json).
func applyAuth(sys *types.SystemContext, auth *Auth) error {
	if auth == nil || *auth == (Auth{}) {
		return nil
	}
	if auth.RegistryToken != "" {
		sys.DockerBearerRegistryToken = auth.RegistryToken
		return nil
	}
	user, pass := auth.Username, auth.Password
	if user == "" && auth.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(auth.Auth)
		if err != nil {
			return fmt.Errorf("auth.auth is not base64: %w", errdefs.ErrInvalidArgument)
		}
		var ok bool
		user, pass, ok = strings.Cut(string(raw), ":")
		if !ok {
			return fmt.Errorf("auth.auth is not base64 of \"username:password\": %w", errdefs.ErrInvalidArgument)
		}
	}
	sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: pass, IdentityToken: auth.IdentityToken}
	return nil
}

// authFingerprint tells credentials apart without keeping them in a key.
func authFingerprint(auth *Auth) string {
	if auth == nil {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join([]string{auth.Username, auth.Password, auth.Auth, auth.IdentityToken, auth.RegistryToken}, "\x00")))
	return hex.EncodeToString(h[:8])
}
