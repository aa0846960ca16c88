-- wrk script: GET the paths of the file BENCH_PATHS (one a line) in turn,
-- so that a list benchmark walks every page rather than the first alone.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
    paths[#paths + 1] = line
end
local next_path = 0

request = function()
    next_path = next_path % #paths + 1
    return wrk.format("GET", paths[next_path])
end
