package cri

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/procs"
	"github.com/cria-runtime/cria/cri/store"
)

// ContainerStats reports a container's CPU, memory and writable layer use.
func (s *RuntimeService) ContainerStats(ctx context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	c, err := s.currentContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: s.containerStats(c)}, nil
}

// ListContainerStats reports the stats of the containers that the filter
// (id or prefix, sandbox, labels) selects.
func (s *RuntimeService) ListContainerStats(ctx context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	return &runtimeapi.ListContainerStatsResponse{Stats: s.listContainerStats(req.GetFilter())}, nil
}

// StreamContainerStats answers as ListContainerStats does, in batches.
func (s *RuntimeService) StreamContainerStats(req *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	return sendBatches(s.listContainerStats(req.GetFilter()), func(batch []*runtimeapi.ContainerStats) error {
		return stream.Send(&runtimeapi.StreamContainerStatsResponse{ContainerStats: batch})
	})
}

func (s *RuntimeService) listContainerStats(f *runtimeapi.ContainerStatsFilter) []*runtimeapi.ContainerStats {
	var out []*runtimeapi.ContainerStats
	for _, c := range s.containers.ListShared() {
		if !hasPrefix(c.ID, f.GetId()) || !hasPrefix(c.SandboxID, f.GetPodSandboxId()) || !labelsMatch(s.ctrConfig(c).GetLabels(), f.GetLabelSelector()) {
			continue
		}
		if cur, err := s.currentContainer(c.ID); err == nil {
			c = cur
		}
		out = append(out, s.containerStats(c))
	}
	return out
}

// PodSandboxStats reports a pod's CPU, memory, processes and network, with
// its containers' stats.
func (s *RuntimeService) PodSandboxStats(ctx context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: s.podStats(sb, s.containers.ListGroup(sb.ID))}, nil
}

// ListPodSandboxStats reports the stats of the pods that the filter (id or
// prefix, labels) selects.
func (s *RuntimeService) ListPodSandboxStats(ctx context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: s.listPodStats(req.GetFilter())}, nil
}

// StreamPodSandboxStats answers as ListPodSandboxStats does, in batches.
func (s *RuntimeService) StreamPodSandboxStats(req *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	return sendBatches(s.listPodStats(req.GetFilter()), func(batch []*runtimeapi.PodSandboxStats) error {
		return stream.Send(&runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: batch})
	})
}

func (s *RuntimeService) listPodStats(f *runtimeapi.PodSandboxStatsFilter) []*runtimeapi.PodSandboxStats {
	// Each pod's containers, from one listing.
	byPod := map[string][]*store.Container{}
	for _, c := range s.containers.ListShared() {
		byPod[c.SandboxID] = append(byPod[c.SandboxID], c)
	}
	var pods []*store.Sandbox
	for _, sb := range s.sandboxes.ListShared() {
		if sb.State == store.SandboxCreating || !hasPrefix(sb.ID, f.GetId()) || !labelsMatch(s.podConfig(sb).GetLabels(), f.GetLabelSelector()) {
			continue
		}
		pods = append(pods, sb)
	}
	out := make([]*runtimeapi.PodSandboxStats, len(pods))
	if len(pods) < 2*statsWorkers {
		for i, sb := range pods {
			out[i] = s.podStats(sb, byPod[sb.ID])
		}
		return out
	}
	// A full node's pod stats are a few thousand reads of cgroup and
	// /proc files, kernel time mostly: spread over the CPUs, which the
	// daemon otherwise serves on one of (package procs).
	defer procs.Busy()()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range statsWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(pods); i = int(next.Add(1) - 1) {
				out[i] = s.podStats(pods[i], byPod[pods[i].ID])
			}
		})
	}
	wg.Wait()
	return out
}

// statsWorkers is how many goroutines read a node's pod stats.
var statsWorkers = runtime.NumCPU()
