package inventory

import (
	_ "embed"

	goredis "github.com/redis/go-redis/v9"
)

// The scripts run by EVALSHA and fall back to EVAL when Redis has lost its
// script cache (restart, failover), so none is loaded ahead of time.
var (
	//go:embed common.lua
	commonSource string
	//go:embed hold.lua
	holdSource string
	//go:embed release.lua
	releaseSource string
	//go:embed confirm.lua
	confirmSource string
	//go:embed reclaim.lua
	reclaimSource string
	//go:embed availability.lua
	availabilitySource string
	//go:embed seats.lua
	seatsSource string
	//go:embed seatversion.lua
	seatVersionSource string
	//go:embed holds.lua
	holdsSource string
	//go:embed keyed.lua
	keyedSource string
	//go:embed dump.lua
	dumpSource string
	//go:embed load.lua
	loadSource string
	//go:embed unlock.lua
	unlockSource string

	holdScript         = withCommon(holdSource)
	releaseScript      = withCommon(releaseSource)
	confirmScript      = withCommon(confirmSource)
	reclaimScript      = withCommon(reclaimSource)
	availabilityScript = withCommon(availabilitySource)
	seatsScript        = withCommon(seatsSource)
	seatVersionScript  = withCommon(seatVersionSource)
	holdsScript        = withCommon(holdsSource)
	keyedScript        = withCommon(keyedSource)
	dumpScript         = withCommon(dumpSource)
	loadScript         = goredis.NewScript(loadSource)
	unlockScript       = goredis.NewScript(unlockSource)
)

// withCommon prefixes a script body with the key names and functions that
// the scripts share; Lua scripts cannot include one another.
func withCommon(body string) *goredis.Script {
	return goredis.NewScript(commonSource + "\n" + body)
}
