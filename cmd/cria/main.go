// Command cria is a Kubernetes CRI runtime: a daemon that serves the CRI
// runtime.v1 RuntimeService and ImageService on a unix socket.
//
// Usage:
//
//	cria [flags]          serve CRI (the daemon)
//	cria config           print the default configuration file
//	cria --version        print version and commit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"syscall"
	"time"

	"go.podman.io/storage/pkg/reexec"
	"google.golang.org/grpc"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri"
	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/nri"
	"github.com/cria-runtime/cria/cri/procs"
	"github.com/cria-runtime/cria/cri/prom"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/cri/streaming"
	"github.com/cria-runtime/cria/image"
	"github.com/cria-runtime/cria/oci/apparmor"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/runtime"
)

// Set by the Makefile through -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
)

// shutdownGrace is how long in-flight RPCs get to finish after SIGTERM.
const shutdownGrace = 10 * time.Second

// maxMsgSize bounds a CRI request or response (the kubelet uses 16 MiB too).
const maxMsgSize = 16 << 20

func init() {
	// No one can read a heap profile of cria (it serves no pprof), so
	// record none: the sampling's bucket table alone held 1.7 MiB on a
	// node of 250 pods. Set before main's allocations, as the runtime
	// asks.
	goruntime.MemProfileRate = 0
	// The live heap is small (11 MiB on 250 pods), and Go's default lets
	// the heap grow to twice it before collecting: collect at half
	// instead, unless the environment says otherwise (GOGC).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

func main() {
	// containers/storage re-executes this binary to unpack layers; the
	// re-executed child must stop here.
	if reexec.Init() {
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in how cria was invoked; they exit with code 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	err := runE(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "cria: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "cria: %v\n", err)
	return 1
}

func runE(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("cria", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", config.DefaultPath, "configuration file (TOML); a missing default file means built-in defaults")
	showVersion := fset.Bool("version", false, "print version and commit, then exit")
	// Flags that override the file. Their defaults are empty: only flags
	// given on the command line override.
	socket := fset.String("socket", "", "override `socket`: path of the CRI unix socket")
	root := fset.String("root", "", "override `root`: durable state directory")
	runRoot := fset.String("run-root", "", "override `run_root`: volatile state directory")
	driver := fset.String("cgroup-driver", "", "override `cgroup_driver`: cgroupfs or systemd")
	logLevel := fset.String("log-level", "", "override `log.level`: debug, info, warn or error")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  cria [flags]     serve CRI on the configured socket\n  cria config      print the default configuration\n\nFlags:\n")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *showVersion {
		fmt.Fprintf(stdout, "cria version %s\ncommit: %s\n", version, commit)
		return nil
	}
	switch fset.Arg(0) {
	case "":
	case "config":
		def := config.Default()
		out, err := def.Marshal()
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	default:
		return fmt.Errorf("%w: unknown command %q (see cria --help)", errUsage, fset.Arg(0))
	}

	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	for flagVal, field := range map[*string]*string{
		socket: &cfg.Socket, root: &cfg.Root, runRoot: &cfg.RunRoot,
		driver: &cfg.CgroupDriver, logLevel: &cfg.Log.Level,
	} {
		if *flagVal != "" {
			*field = *flagVal
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: invalid flags: %v", errUsage, err)
	}
	return serve(cfg, stderr)
}

// serve wires every part by hand and serves until SIGTERM or SIGINT.
func serve(cfg config.Config, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)

	driver, warning, err := cgroups.ResolveDriver(cfg.CgroupDriver)
	if err != nil {
		return err
	}
	if warning != "" {
		log.Warn(warning)
	}
	// cria's state holds containers' root filesystems, logs and sockets
	// (CVE-2021-41091, CVE-2021-41103): no one but root may list or read
	// it. The top directories (and the one of pod directories) may be
	// passed through by name (0711), for the root of a pod in a user
	// namespace, who is not the host's, to reach its own: every directory
	// below is 0700, or owned by (or shared with the group of) that pod's
	// root. Set explicitly: MkdirAll honours the umask and leaves existing
	// modes.
	for _, dir := range []string{cfg.Root, cfg.RunRoot, filepath.Join(cfg.RunRoot, "sandboxes")} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, release, err := listenCRI(cfg.Socket)
	if err != nil {
		return err
	}
	defer release()
	qln, err := listenQuietly(ln)
	if err != nil {
		return fmt.Errorf("CRI socket: %w", err)
	}
	defer qln.Close() // its duplicate of the socket too, if Serve never ran

	// The runtime service is made below; metrics read it at scrape time.
	var rt *cri.RuntimeService
	var metrics *prom.Metrics
	observeRPC := func(string, string, time.Duration) {}
	var onPull func(uint64, time.Duration, error)
	if cfg.Metrics.Enabled {
		metrics = prom.New(func() (map[string]int, map[string]int) { return rt.Counts() })
		observeRPC, onPull = metrics.ObserveRPC, metrics.ObservePull
	}
	images, err := image.New(image.Options{
		OnPull:               onPull,
		StorageRoot:          cfg.StorageRoot(),
		StorageRunRoot:       cfg.StorageRunRoot(),
		Driver:               cfg.Image.StorageDriver,
		DriverOptions:        cfg.Image.StorageOptions,
		RegistriesConf:       cfg.Image.RegistriesConf,
		SignaturePolicy:      cfg.Image.SignaturePolicy,
		PullProgressTimeout:  cfg.Image.PullProgressTimeoutDuration(),
		MaxParallelDownloads: cfg.Image.MaxParallelDownloads,
		PinnedImages:         cfg.Image.PinnedImages,
		UserAgent:            "cria/" + version,
		Log:                  log.With("component", "image"),
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := images.Close(); err != nil {
			log.Warn("closing the image store", "error", err)
		}
	}()

	srv := grpc.NewServer(
		grpc.UnaryInterceptor(cri.UnaryInterceptor(log, observeRPC)),
		grpc.StreamInterceptor(cri.StreamInterceptor(ctx, log, observeRPC)),
		grpc.MaxRecvMsgSize(maxMsgSize),
		grpc.MaxSendMsgSize(maxMsgSize),
		// A kubelet polls hundreds of unary calls a second over one
		// connection: workers that keep their grown stacks take them
		// instead of a new goroutine each (which grew its stack anew),
		// and fixed windows spare the BDP pings that tune a window for
		// a network, where this is a unix socket.
		grpc.NumStreamWorkers(uint32(goruntime.NumCPU())),
		grpc.StaticStreamWindowSize(1<<20),
		grpc.StaticConnWindowSize(1<<20),
	)
	sandboxes, errs := store.OpenSandboxes(filepath.Join(cfg.Root, "sandboxes"))
	for _, err := range errs {
		// Kept on disk, never deleted: an operator can look at it.
		log.Error("unreadable sandbox record", "error", err)
	}
	monitorBin := cfg.MonitorPath
	if monitorBin == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding cria-monitor: %w", err)
		}
		monitorBin = filepath.Join(filepath.Dir(self), "cria-monitor")
	}
	if _, err := os.Stat(monitorBin); err != nil {
		return fmt.Errorf("cria-monitor (set monitor_path): %w", err)
	}
	containers, errs := store.OpenContainers(filepath.Join(cfg.Root, "containers"))
	for _, err := range errs {
		log.Error("unreadable container record", "error", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	startHelper := filepath.Join(filepath.Dir(self), "cria-start")
	if _, err := os.Stat(startHelper); err != nil {
		return fmt.Errorf("cria-start, installed beside cria: %w", err)
	}
	var monitorCgroup *cgroups.ProcessCgroup
	if cfg.MonitorCgroup != "" && driver == cgroups.Cgroupfs {
		monitorCgroup = &cgroups.ProcessCgroup{Driver: driver, Name: cfg.MonitorCgroup}
	}
	monitors := monitor.NewLauncher(monitorBin, startHelper, monitorCgroup)
	defer monitors.Close()
	aa := cri.AppArmor{Host: apparmor.Host{Root: "/"}}
	if aa.Enabled = aa.Host.Enabled(); aa.Enabled {
		if err := aa.Host.LoadDefault(); err != nil {
			aa.DefaultErr = err.Error()
			log.Warn("AppArmor is enabled, but cria's default profile could not be loaded: RuntimeDefault is refused, and containers that ask for nothing run unconfined", "error", err)
		} else {
			aa.Default = apparmor.DefaultProfile
		}
	}
	rt = cri.NewRuntimeService(cri.Options{
		AppArmor:     aa,
		Containers:   containers,
		Images:       images,
		Runtime:      &runtime.Runtime{Root: filepath.Join(cfg.RunRoot, "runc"), Helper: startHelper, Systemd: driver == cgroups.Systemd},
		Config:       cfg,
		Version:      version,
		CgroupDriver: driver,
		Sandboxes:    sandboxes,
		CNI:          network.NewCNI(cfg.Network.CNIConfDir, cfg.Network.CNIPluginDirs, cfg.CNICacheDir()),
		MonitorPath:  monitorBin,
		Monitors:     monitors,
	})
	rt.Recover(ctx)
	// NRI after recovery: plugins are synchronised with what is there.
	plugins, err := nri.New(cfg.NRI, version, rt.NRIDomain(), log.With("component", "nri"))
	if err != nil {
		return err
	}
	rt.SetNRI(plugins)
	if err := plugins.Start(); err != nil {
		return err
	}
	defer plugins.Stop()
	if cfg.NRI.Enable && !cfg.NRI.DisableConnections {
		// Plugins may change any container: root only.
		if err := os.Chmod(cfg.NRI.SocketPath, 0o600); err != nil {
			return fmt.Errorf("nri socket: %w", err)
		}
	}
	streams, err := streaming.Start(streaming.Options{
		Address: cfg.Streaming.Address, Port: cfg.Streaming.Port, IdleTimeout: cfg.Streaming.IdleTimeoutDuration(),
		TLSCertFile: cfg.Streaming.TLSCertFile, TLSKeyFile: cfg.Streaming.TLSKeyFile,
	}, rt.StreamRuntime())
	if err != nil {
		return err
	}
	defer streams.Close()
	rt.SetStreaming(streams)
	cri.Register(srv, rt, cri.NewImageService(images))

	go rt.WatchExits(ctx)
	go rt.CollectStats(ctx, cfg.StatsCollectPeriodDuration())
	if metrics != nil {
		msrv, addr, err := metrics.Serve(cfg.Metrics.Address)
		if err != nil {
			return err
		}
		defer msrv.Close()
		log.Info("metrics serving", "url", "http://"+addr+"/metrics")
	}

	// Start-up (opening the store, recovery) ran on all CPUs; serving
	// runs on one, except pulls (see package procs).
	procs.Manage()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(qln) }()
	log.Info("cria serving", "version", version, "commit", commit, "socket", cfg.Socket, "streaming", streams.URL,
		"cgroup_driver", driver, "cgroup_hierarchy", cgroups.Hierarchy(), "gomaxprocs", goruntime.GOMAXPROCS(0), "pid", os.Getpid())

	select {
	case err := <-served:
		return fmt.Errorf("serving CRI: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace)
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		log.Warn("in-flight RPCs did not finish in time; stopping them")
		srv.Stop()
	}
	log.Info("stopped")
	return nil
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
