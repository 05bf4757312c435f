package cri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/specgen"
	"github.com/cria-runtime/cria/cri/store"
)

// runTimeout bounds one RunPodSandbox's work, which goes on after the
// caller gives up so that the kubelet's retry can be handed the result.
const runTimeout = 4 * time.Minute

// runOp is a RunPodSandbox in progress, shared with retries of the same
// name.
type runOp struct {
	done chan struct{}
	id   string
	err  error
	// waiters counts retries waiting for the result; protected by runMu.
	waiters int
}

// RunPodSandbox creates and starts a pod sandbox: its namespaces, files,
// /dev/shm, pause process (shared PID namespace only), cgroup and network.
// Every step is undone if a later one fails.
//
// A second call for the same pod (metadata name, namespace, uid, attempt)
// while the first runs waits for it and gets its result; a call after one
// that finished for a caller who had given up (the kubelet's timeout) is
// handed that sandbox, as CRI-O does. Otherwise a live sandbox holding the
// name gives AlreadyExists naming it.
func (s *RuntimeService) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	cfg := req.GetConfig()
	if err := validateSandboxConfig(cfg, s.node); err != nil {
		return nil, err
	}
	if h := req.GetRuntimeHandler(); h != "" && !slices.Contains(s.opts.Config.RuntimeHandlers, h) {
		return nil, invalid("runtime_handler %q is unknown; cria has the default handler (\"\") and %q (config runtime_handlers)", h, s.opts.Config.RuntimeHandlers)
	}
	if err := specgen.CheckSELinux("config.linux.security_context.selinux_options", cfg.GetLinux().GetSecurityContext().GetSelinuxOptions(), s.selinuxEnabled); err != nil {
		return nil, err
	}
	if idMappings(cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()) != nil && !s.userns {
		return nil, fmt.Errorf("config.linux.security_context.namespace_options.userns_options: POD: this node cannot run pods in user namespaces of their own (%s): %w", s.usernsWhy, errdefs.ErrFailedPrecondition)
	}
	if err := cgroups.ValidateParent(s.opts.CgroupDriver, cfg.GetLinux().GetCgroupParent()); err != nil {
		return nil, invalid("config.linux.%v", err)
	}
	name := sandboxName(cfg.GetMetadata())

	s.runMu.Lock()
	if op := s.runs[name]; op != nil {
		op.waiters++
		s.runMu.Unlock()
		select {
		case <-op.done:
			if op.err != nil {
				return nil, op.err
			}
			return &runtimeapi.RunPodSandboxResponse{PodSandboxId: op.id}, nil
		case <-ctx.Done():
			s.runMu.Lock()
			op.waiters--
			s.runMu.Unlock()
			return nil, ctx.Err()
		}
	}
	if id, ok := s.unclaimed[name]; ok {
		delete(s.unclaimed, name)
		s.runMu.Unlock()
		if sb, err := s.sandboxes.Get(id); err == nil && sb.State == store.SandboxReady {
			Logger(ctx).Info("handing a sandbox finished after its caller gave up to the retry", "pod_sandbox_id", id)
			return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
		}
		s.runMu.Lock()
	}
	op := &runOp{done: make(chan struct{})}
	s.runs[name] = op
	s.runMu.Unlock()

	workCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	op.id, op.err = s.runPodSandbox(workCtx, name, req)
	cancel()
	if op.err == nil {
		s.emit(op.id, op.id, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
		s.emit(op.id, op.id, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	}

	s.runMu.Lock()
	delete(s.runs, name)
	if op.err == nil && ctx.Err() != nil && op.waiters == 0 {
		// Nobody got the result: keep it for the kubelet's retry.
		s.unclaimed[name] = op.id
	}
	s.runMu.Unlock()
	close(op.done)
	if op.err != nil {
		return nil, op.err
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: op.id}, nil
}

func (s *RuntimeService) runPodSandbox(ctx context.Context, name string, req *runtimeapi.RunPodSandboxRequest) (_ string, retErr error) {
	cfg := req.GetConfig()
	log := Logger(ctx)
	// Before any lock: a plugin's synchronisation reads the records.
	defer s.nri.Block()()
	id, err := newID()
	if err != nil {
		return "", err
	}
	if err := s.sandboxes.Reserve(name, id); err != nil {
		return "", err
	}
	unlock := s.sandboxes.Lock(id)
	defer unlock()

	nsOpts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	hostNet := nsOpts.GetNetwork() == runtimeapi.NamespaceMode_NODE
	hostIPC := nsOpts.GetIpc() == runtimeapi.NamespaceMode_NODE
	hostname := cfg.GetHostname()
	if hostname == "" {
		hostname = cfg.GetMetadata().GetName()
		if len(hostname) > maxHostnameLen {
			hostname = hostname[:maxHostnameLen]
		}
	}
	if hostNet {
		hostname, _ = os.Hostname()
	}
	raw, err := protojson.Marshal(cfg)
	if err != nil {
		s.sandboxes.Release(name, id)
		return "", fmt.Errorf("encoding sandbox config: %w", err)
	}
	dir := s.sandboxDir(id)
	sb := &store.Sandbox{
		ID:             id,
		Name:           name,
		Config:         raw,
		RuntimeHandler: req.GetRuntimeHandler(),
		CreatedAt:      time.Now().UnixNano(),
		State:          store.SandboxCreating,
		Dir:            dir,
		PIDMode:        pidMode(nsOpts.GetPid()),
		CgroupParent:   cfg.GetLinux().GetCgroupParent(),
		Hostname:       hostname,
		HostsPath:      filepath.Join(dir, "hosts"),
		ResolvPath:     filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		ShmPath:        "/dev/shm",
	}
	if !hostNet {
		sb.NetNS, sb.UTSNS = filepath.Join(dir, "ns", "net"), filepath.Join(dir, "ns", "uts")
	}
	if !hostIPC {
		sb.IPCNS, sb.ShmPath = filepath.Join(dir, "ns", "ipc"), filepath.Join(dir, "shm")
	}
	if sb.PIDMode == "pod" {
		sb.PIDNS = filepath.Join(dir, "ns", "pid")
	}
	userns := idMappings(nsOpts.GetUsernsOptions())
	if userns != nil {
		sb.UserNS = filepath.Join(dir, "ns", "user")
	}
	// Durable before any side effect, marked "creating": a crash from here
	// on is rolled back at the next start (Recover), by these paths.
	if err := s.sandboxes.Put(sb); err != nil {
		s.sandboxes.Release(name, id)
		return "", fmt.Errorf("recording sandbox: %w", err)
	}
	var nriTold bool
	defer func() {
		if retErr == nil {
			return
		}
		// Undo everything, with a fresh context: the request's may be
		// what expired.
		// sb, not the stored record, knows every step taken so far.
		cleanCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if nriTold {
			// Plugins that saw the pod see it go.
			pod := nriPod(sb)
			for _, err := range []error{s.nri.StopPodSandbox(cleanCtx, pod), s.nri.RemovePodSandbox(cleanCtx, pod)} {
				if err != nil {
					log.Warn("nri: undoing RunPodSandbox", "pod_sandbox_id", id, "error", err)
				}
			}
		}
		_, err := s.teardown(cleanCtx, sb)
		if err == nil {
			os.RemoveAll(dir)
			err = s.sandboxes.Delete(id)
		}
		if err != nil {
			// Parked, visible: a later Stop/Remove (or restart) finishes.
			log.Error("rolling back a failed RunPodSandbox", "pod_sandbox_id", id, "error", err)
		}
	}()

	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o700); err != nil {
		return "", err
	}
	if userns != nil {
		// The pod's root is not the host's: it passes through the pod's
		// directory (to its files, and the pause to its root) as a member
		// of its group, as no one else may (its /dev/shm is 1777).
		_, gid := userns.HostRoot()
		if err := os.Chown(dir, 0, gid); err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o710); err != nil {
			return "", err
		}
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	// The pod's files live in its volatile directory and are made anew
	// with it: written whole, but not worth an fsync each.
	if err := os.WriteFile(sb.ResolvPath, resolvConf(cfg.GetDnsConfig(), hostResolv), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(sb.HostnamePath, []byte(hostname+"\n"), 0o644); err != nil {
		return "", err
	}
	if !hostIPC {
		if err := os.MkdirAll(sb.ShmPath, 0o1777); err != nil {
			return "", err
		}
		opts := fmt.Sprintf("mode=1777,size=%d", s.opts.Config.Pod.ShmSizeBytes())
		if err := unix.Mount("shm", sb.ShmPath, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return "", fmt.Errorf("mounting the pod's /dev/shm: %w", err)
		}
	}

	nsReq := network.NamespaceRequest{
		Dir: filepath.Join(dir, "ns"), Net: !hostNet, IPC: !hostIPC, UTS: !hostNet, User: userns,
		Hostname: hostname, Sysctls: cfg.GetLinux().GetSysctls(),
	}
	switch {
	case sb.PIDMode == "pod" && userns != nil:
		// The pod's PID namespace must be owned by its user namespace
		// (or no container could mount /proc): the pause is born in all
		// of them, and they are pinned from it.
		if err := s.startPause(sb, &nsReq); err != nil {
			return "", fmt.Errorf("creating pod namespaces: %w", err)
		}
	default:
		ns, err := network.CreateNamespaces(nsReq)
		if err != nil {
			return "", fmt.Errorf("creating pod namespaces: %w", err)
		}
		sb.Pinned = ns != (network.Namespaces{})
		if sb.PIDMode == "pod" {
			if err := s.startPause(sb, nil); err != nil {
				return "", err
			}
		}
	}

	var ips []string
	if !hostNet {
		cniStart := time.Now()
		att, err := s.opts.CNI.Setup(ctx, cniPod(sb, cfg))
		if err != nil {
			return "", fmt.Errorf("setting up the pod network: %w", err)
		}
		log.Debug("CNI ADD done", "pod_sandbox_id", id, "network", att.Network, "ips", att.IPs, "duration", time.Since(cniStart))
		sb.NetworkUp, sb.Network, sb.CNIResult, sb.IPs = true, att.Network, att.Result, att.IPs
		ips = att.IPs
	}
	hosts := hostsFile(hostname, ips)
	if hostNet {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = b
		}
	}
	if err := os.WriteFile(sb.HostsPath, hosts, 0o644); err != nil {
		return "", err
	}

	if s.nri.Active() {
		// Plugins see the pod whole, before anyone else does: until it is
		// ready it is not listed, and no container can be made in it.
		nriTold = true
		if err := s.nri.RunPodSandbox(ctx, nriPod(sb)); err != nil {
			return "", fmt.Errorf("an NRI plugin failed RunPodSandbox: %w", err)
		}
	}

	sb.State = store.SandboxReady
	if err := s.sandboxes.Put(sb); err != nil {
		return "", fmt.Errorf("recording sandbox: %w", err)
	}
	s.watchPause(sb)
	return id, nil
}

// newID returns a random 64-hex-digit id, like containerd's.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating an id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
