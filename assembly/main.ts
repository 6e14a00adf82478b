import { console_write, poweroff } from "./kernel";
const hello = memory.data<u8>([104, 105, 10]);
export function main(): i32 {
  console_write(hello, 3);
  poweroff(0);
  return 0;
}
