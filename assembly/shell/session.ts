// Where the commands being run came from: the boot command line (scripted: its output is read by
// programs) or a line typed at the `nvme> ` prompt (a person watches). Only the prompt sets it, for
// the time its line runs; commands that take long (iochk) show progress only then.
export let atPrompt = false;

export function setAtPrompt(typed: bool): void {
  atPrompt = typed;
}
