/** 12345 → "12,345" (toLocaleString goes through ICU and costs more than a whole policy check). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
