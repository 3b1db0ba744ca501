package runtime

// Conversions between the Go contract (runtime.go) and the messages of
// proto/runtime.proto.

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/runtime/proto"
)

func configToProto(c Config) *pb.Config {
	return &pb.Config{Binary: c.Binary, StateDir: c.StateDir, Options: c.Options}
}

func configFromProto(c *pb.Config) Config {
	return Config{Binary: c.GetBinary(), StateDir: c.GetStateDir(), Options: c.GetOptions()}
}

func specToProto(s Spec) *pb.Spec {
	return &pb.Spec{Id: s.ID, Args: s.Args, Env: s.Env, LogPath: s.LogPath}
}

func specFromProto(s *pb.Spec) Spec {
	return Spec{ID: s.GetId(), Args: s.GetArgs(), Env: s.GetEnv(), LogPath: s.GetLogPath()}
}

func handleToProto(h Handle) *pb.Handle {
	return &pb.Handle{Id: h.ID, Pid: int64(h.PID), StartedAt: pluginrpc.Timestamp(h.StartedAt)}
}

func handleFromProto(h *pb.Handle) Handle {
	return Handle{ID: h.GetId(), PID: int(h.GetPid()), StartedAt: pluginrpc.Time(h.GetStartedAt())}
}

func exitToProto(e Exit) *pb.Exit {
	return &pb.Exit{Id: e.ID, Pid: int64(e.PID), ExitCode: int64(e.ExitCode), At: pluginrpc.Timestamp(e.At)}
}

func exitFromProto(e *pb.Exit) Exit {
	return Exit{ID: e.GetId(), PID: int(e.GetPid()), ExitCode: int(e.GetExitCode()), At: pluginrpc.Time(e.GetAt())}
}

func durationFromProto(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}
