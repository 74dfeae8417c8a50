return {
  primary = 
